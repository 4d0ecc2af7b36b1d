// The flags a container's root filesystem is mounted with. Device nodes and setuid
// files come from image layers anyone may publish: with nodev and nosuid they open no
// device and raise no privilege, neither in the container nor for a host user who
// walks the mounted rootfs. A spec that needs them keeps them: a privileged container,
// and one given host devices (nodev). Setuid files never work in a container here
// anyway (oci-config sets no-new-privileges on every process); whoever makes
// `Privileges.NoNewPrivileges: false` take effect drops nosuid for it here too.
import type { ContainerSpec } from '../../lib/index.js';

export function rootfsMountFlags(spec: Pick<ContainerSpec, 'Privileged' | 'Devices'>): string[] {
  if (spec.Privileged === true) return [];
  return (spec.Devices ?? []).length === 0 ? ['nosuid', 'nodev'] : ['nosuid'];
}
