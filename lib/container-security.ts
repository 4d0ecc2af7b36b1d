// What a container may ask for beyond Docker's defaults, checked the same way wherever a
// spec enters: compose (with file:line:col), the API (a 400) and the agent (before crun).
// Capability and ulimit names, the sysctls a container's namespaces can hold, host device
// mappings, and `security_opt` values. Pure: no I/O.
import type { DeviceMapping, Privileges } from './model/index.js';

/** Every capability Linux 6.x knows (for `ALL` and for checking names), in bit order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** `net_admin`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`; undefined when Linux has no such capability. */
export function canonicalCapability(cap: string): string | undefined {
  const up = cap.trim().toUpperCase();
  if (up === 'ALL') return up;
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  return ALL_CAPABILITIES.includes(name) ? name : undefined;
}

/** ulimit names as Docker writes them → OCI rlimit types. */
export const RLIMIT_TYPES: Readonly<Record<string, string>> = {
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
  as: 'RLIMIT_AS',
};

/** The IPC-namespace sysctls Docker lets a container set (besides the net.* and fs.mqueue.* families). */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * Why a container cannot set this sysctl, or undefined when it can. Only sysctls of the
 * container's own namespaces (network, IPC) are allowed, as Docker allows them: any other
 * would change the host for every container on it.
 */
export function sysctlProblem(name: string): string | undefined {
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return undefined;
  if (/^net\.[^\s=]+$/.test(name)) return undefined;
  return `sysctl "${name}" is not namespaced: it would change the host, not only the container (allowed: net.*, fs.mqueue.*, ${[...IPC_SYSCTLS].join(', ')})`;
}

/** Why a device mapping cannot be honoured, or undefined. */
export function deviceProblem(d: DeviceMapping): string | undefined {
  if (!d.PathOnHost.startsWith('/'))
    return `device "${d.PathOnHost}" is not an absolute path on the host (CDI device names are not supported)`;
  if (!d.PathInContainer.startsWith('/'))
    return `device target "${d.PathInContainer}" is not an absolute path in the container`;
  if (d.CgroupPermissions !== undefined && !/^(?!.*(.).*\1)[rwm]{0,3}$/.test(d.CgroupPermissions))
    return `device permissions "${d.CgroupPermissions}" must be any of r, w and m (e.g. rwm)`;
  return undefined;
}

/** One `security_opt` entry as skiff applies it, or why it cannot. */
export type SecurityOpt =
  | { kind: 'seccomp'; mode: 'unconfined' }
  | { kind: 'seccomp'; mode: 'custom'; file: string }
  | { kind: 'apparmor'; mode: 'disabled' }
  | { kind: 'no-new-privileges'; value: boolean }
  /** `label=disable`: no SELinux labels, which is what skiff does anyway. */
  | { kind: 'label-disable' }
  | { kind: 'refused'; message: string };

/**
 * Parses a Docker `--security-opt` / compose `security_opt` value (`key=value`, or the
 * older `key:value`). What skiff cannot honour is `refused` with the reason.
 */
export function parseSecurityOpt(opt: string): SecurityOpt {
  if (opt === 'no-new-privileges') return { kind: 'no-new-privileges', value: true };
  const m = /^([a-z-]+)[=:](.*)$/s.exec(opt);
  if (!m) return { kind: 'refused', message: `"${opt}" is not a security option (key=value)` };
  const [, key, value] = m as unknown as [string, string, string];
  switch (key) {
    case 'no-new-privileges':
      if (value === 'true') return { kind: 'no-new-privileges', value: true };
      if (value === 'false') return { kind: 'no-new-privileges', value: false };
      return { kind: 'refused', message: `no-new-privileges takes true or false, not "${value}"` };
    case 'seccomp':
      if (value === 'unconfined') return { kind: 'seccomp', mode: 'unconfined' };
      if (value === '') return { kind: 'refused', message: 'seccomp= needs "unconfined" or a profile file' };
      return { kind: 'seccomp', mode: 'custom', file: value };
    case 'apparmor':
      if (value === 'unconfined') return { kind: 'apparmor', mode: 'disabled' };
      return {
        kind: 'refused',
        message: `apparmor profile "${value}" cannot be applied: skiff applies its own default AppArmor profile where the kernel has AppArmor, and can only turn it off (apparmor=unconfined)`,
      };
    case 'label':
      if (value === 'disable') return { kind: 'label-disable' };
      return {
        kind: 'refused',
        message: `"${opt}": skiff does not apply SELinux labels, so it cannot honour label options (only label=disable, its behaviour)`,
      };
    case 'systempaths':
      return {
        kind: 'refused',
        message: `"${opt}": skiff always masks the kernel's sensitive /proc and /sys paths; only privileged: true unmasks them`,
      };
    default:
      return { kind: 'refused', message: `unknown security option "${key}"` };
  }
}

/**
 * Folds parsed options into Docker's `Privileges`; `profile` gives a custom seccomp
 * profile's JSON text. Later options win, as in Docker.
 */
export function privilegesOf(opts: readonly SecurityOpt[], profile?: (file: string) => string): Privileges {
  const p: Privileges = {};
  for (const o of opts) {
    if (o.kind === 'seccomp')
      p.Seccomp =
        o.mode === 'custom' ? { Mode: 'custom', Profile: profile?.(o.file) ?? '' } : { Mode: 'unconfined' };
    else if (o.kind === 'apparmor') p.AppArmor = { Mode: o.mode };
    else if (o.kind === 'no-new-privileges') p.NoNewPrivileges = o.value;
  }
  return p;
}

/** Why a custom seccomp profile cannot be used, or undefined: it must be a JSON object. */
export function seccompProfileProblem(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `is not JSON (${(e as Error).message})`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return 'is not a seccomp profile (a JSON object)';
  const action = (v as { defaultAction?: unknown }).defaultAction;
  if (typeof action !== 'string') return 'is not a seccomp profile: it has no "defaultAction"';
  return undefined;
}
