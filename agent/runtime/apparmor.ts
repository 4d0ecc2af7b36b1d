// AppArmor: where the kernel has it enabled, containers run under skiff-default, a
// profile in the spirit of Docker's docker-default (no mounts, no raw /proc/sys,
// /sys/firmware or kernel memory, no ptrace out of the profile), loaded once per node
// with apparmor_parser. Where the kernel has none (this is checked, not assumed),
// nothing is applied and /info says nothing about AppArmor.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ContainerSpec } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

export const APPARMOR_PROFILE = 'skiff-default';
const ENABLED_FILE = '/sys/module/apparmor/parameters/enabled';

/** Whether the running kernel enforces AppArmor (the module is loaded and enabled). */
export function apparmorEnabled(file: string = ENABLED_FILE): boolean {
  try {
    return readFileSync(file, 'utf8').trim().startsWith('Y');
  } catch {
    return false;
  }
}

/** The profile text: Docker's docker-default rules, under skiff's name. */
export function apparmorProfileText(name: string = APPARMOR_PROFILE): string {
  return `#include <tunables/global>

profile ${name} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>

  network,
  capability,
  file,
  umount,
  # Signals and ptrace only within containers under this profile.
  signal (receive) peer=unconfined,
  signal (send,receive) peer=${name},
  ptrace (trace,read,tracedby,readby) peer=${name},

  # /proc: no writes to its top-level files or to kernel settings, no kernel memory.
  deny @{PROC}/* w,
  deny @{PROC}/sys/** w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,

  deny mount,

  # /sys: read-only everywhere (the cgroup tree is mounted read-only already).
  deny /sys/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;
}

let loaded: Promise<void> | undefined;

/** Loads (or replaces) the profile in the kernel, once per process. */
export function loadApparmorProfile(parser = 'apparmor_parser'): Promise<void> {
  loaded ??= new Promise<void>((resolve, reject) => {
    const child = execFile(parser, ['-Kr'], (err, _stdout, stderr) => {
      if (err) {
        loaded = undefined;
        reject(
          new SkiffError(
            'unavailable',
            `AppArmor is enabled, but the ${APPARMOR_PROFILE} profile could not be loaded: ${stderr.trim() || err.message}`,
            {
              hint: 'install apparmor (apparmor_parser), or run the service with --security-opt apparmor=unconfined',
            },
          ),
        );
        return;
      }
      resolve();
    });
    child.stdin?.end(apparmorProfileText());
  });
  return loaded;
}

/**
 * The AppArmor profile a container runs under, or none. The hook for the spec's
 * `Privileges.AppArmor` and `Privileged` (Docker runs a privileged container unconfined).
 */
export async function apparmorFor(
  spec: Pick<ContainerSpec, 'Privileges' | 'Privileged'>,
  enabled: boolean,
): Promise<string | undefined> {
  if (!enabled || spec.Privileged === true) return undefined;
  if (spec.Privileges?.AppArmor?.Mode === 'disabled') return undefined;
  await loadApparmorProfile();
  return APPARMOR_PROFILE;
}
