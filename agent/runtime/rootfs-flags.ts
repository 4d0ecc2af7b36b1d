// The flags a container's root filesystem is mounted with. Device nodes and setuid
// files come from image layers anyone may publish: with nodev and nosuid they open no
// device and raise no privilege, neither in the container nor for a host user who
// walks the mounted rootfs. A spec that needs them keeps them: a privileged container,
// and one given host devices (nodev); one that turns no-new-privileges off (setuid
// files work only then: oci-config sets no-new-privileges on every other process).
import type { ContainerSpec } from '../../lib/index.js';

export function rootfsMountFlags(
  spec: Pick<ContainerSpec, 'Privileged' | 'Devices' | 'Privileges'>,
): string[] {
  if (spec.Privileged === true) return [];
  // A spec that turns no-new-privileges off wants its setuid binaries to work.
  const suid = spec.Privileges?.NoNewPrivileges === false ? [] : ['nosuid'];
  return (spec.Devices ?? []).length === 0 ? [...suid, 'nodev'] : suid;
}
