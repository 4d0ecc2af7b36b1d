// Builds an OCI runtime-spec config.json (spec 1.0.x) the way Docker's defaults shape
// one: default mounts, masked and read-only /proc paths, Docker's capabilities,
// no-new-privileges, private pid/ipc/uts/mount namespaces and a network namespace
// from the network layer, cgroup v1 limits and rlimits within the host's hard limit.
// Pure: every host fact comes in through the input.
import type { Ulimit } from '../../lib/index.js';
import { ALL_CAPABILITIES, RLIMIT_TYPES, SkiffError } from '../../lib/index.js';
import type { OciMount } from '../volume/index.js';
import { effectiveCapabilities } from './capabilities.js';
import type { OciSeccomp } from './seccomp.js';
import type { ResolvedUser } from './user.js';

export interface OciProcess {
  terminal?: boolean;
  /** The terminal's initial size (an exec with a TTY). */
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable: string[];
    ambient: string[];
  };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
}

export interface OciConfig {
  ociVersion: string;
  root: { path: string; readonly: boolean };
  process: OciProcess;
  hostname: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
      memory?: { limit: number; swap: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    sysctl?: Record<string, string>;
    devices?: Omit<ContainerDevice, 'access'>[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: OciSeccomp;
  };
}

/** Docker's (moby 28) masked paths: /proc/interrupts tells which devices the host has, and how busy. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export function defaultMounts(readonlySysfs = true): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', readonlySysfs ? 'ro' : 'rw'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev', 'relatime'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
  ];
}

/** Docker's device cgroup rules: nothing but the usual character devices and ptys. */
const DEVICE_RULES: OciConfig['linux']['resources']['devices'] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

export interface OciConfigInput {
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  tty: boolean;
  /** With tty: the terminal's size from its start. */
  consoleSize?: { height: number; width: number };
  hostname: string;
  /** Mounts after the defaults (volumes, binds, tmpfs, secrets, /etc files); later ones win. */
  mounts: OciMount[];
  netnsPath?: string;
  cgroupsPath: string;
  memoryBytes?: number;
  nanoCpus?: number;
  pidsLimit?: number;
  capAdd?: string[];
  capDrop?: string[];
  sysctls?: Record<string, string>;
  ulimits?: Ulimit[];
  /** `docker run --privileged`: every capability and host device, no seccomp, AppArmor or masked paths, rw /sys. */
  privileged?: boolean;
  /** Host devices created in the container and allowed by its device cgroup (see devices.ts). */
  devices?: ContainerDevice[];
  /** The node's capability bounding set: what ALL and privileged mean (default: every capability). */
  hostCapabilities?: readonly string[];
  /** skiff sets no-new-privileges unless the spec turns it off (or the container is privileged). */
  noNewPrivileges?: boolean;
  /** The host's hard limits by OCI type (RLIMIT_NOFILE → 20000); a request above one is an error. */
  hostHardLimits: Record<string, number>;
  annotations?: Record<string, string>;
  /** The seccomp filter (seccomp.ts's `seccompFor`); none: unconfined. */
  seccomp?: OciSeccomp;
  /** The AppArmor profile to run under (apparmor.ts); none where the kernel has no AppArmor. */
  apparmorProfile?: string;
}

/** Docker's default open-files limit, clipped to what the host allows. */
const DEFAULT_NOFILE = 1048576;

export function buildOciConfig(input: OciConfigInput): OciConfig {
  const caps = effectiveCapabilities(input.capAdd, input.capDrop, input.hostCapabilities);
  const root = input.user.uid === 0;
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' },
  ];
  const resources: OciConfig['linux']['resources'] = { devices: DEVICE_RULES.map((d) => ({ ...d })) };
  if (input.memoryBytes !== undefined && input.memoryBytes > 0) {
    if (input.memoryBytes < 6 * 1024 * 1024) {
      throw new SkiffError(
        'invalid_argument',
        `memory limit ${input.memoryBytes} bytes is below the minimum of 6 MiB`,
        {
          hint: 'raise the memory limit to at least 6M',
        },
      );
    }
    // No swap beyond the limit, so the limit is the limit.
    resources.memory = { limit: input.memoryBytes, swap: input.memoryBytes };
  }
  if (input.nanoCpus !== undefined && input.nanoCpus > 0) {
    const period = 100_000;
    resources.cpu = { period, quota: Math.max(1000, Math.round((input.nanoCpus * period) / 1e9)) };
  }
  if (input.pidsLimit !== undefined && input.pidsLimit > 0) resources.pids = { limit: input.pidsLimit };

  const config: OciConfig = {
    ociVersion: '1.0.2',
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    process: {
      terminal: input.tty,
      ...(input.tty && input.consoleSize ? { consoleSize: input.consoleSize } : {}),
      user: {
        uid: input.user.uid,
        gid: input.user.gid,
        ...(input.user.additionalGids.length > 0 ? { additionalGids: input.user.additionalGids } : {}),
      },
      args: input.args,
      env: input.env,
      cwd: input.cwd,
      capabilities: {
        bounding: caps,
        // Like Docker: a non-root user keeps the bounding set but holds no capability.
        effective: root ? caps : [],
        permitted: root ? caps : [],
        inheritable: [],
        ambient: [],
      },
      rlimits: buildRlimits(input.ulimits ?? [], input.hostHardLimits),
      noNewPrivileges: true,
      ...(input.apparmorProfile ? { apparmorProfile: input.apparmorProfile } : {}),
    },
    hostname: input.hostname,
    mounts: mergeMounts(defaultMounts(), input.mounts),
    linux: {
      namespaces,
      cgroupsPath: input.cgroupsPath,
      resources,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      ...(input.seccomp ? { seccomp: input.seccomp } : {}),
    },
  };
  if (input.sysctls && Object.keys(input.sysctls).length > 0) config.linux.sysctl = { ...input.sysctls };
  if (input.annotations && Object.keys(input.annotations).length > 0)
    config.annotations = { ...input.annotations };
  if (input.noNewPrivileges === false) config.process.noNewPrivileges = false;
  // Last, so that privileged undoes every confinement applied above.
  if (input.privileged)
    applyPrivileged(config, input.hostCapabilities ?? ALL_CAPABILITIES, input.noNewPrivileges === true);
  if (input.devices?.length) applyDevices(config, input.devices);
  return config;
}

/** A host device as the container gets it: created at `path`, allowed `access` (any of r, w, m). */
export interface ContainerDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  access: string;
}

/** Creates the devices in the container and lets its device cgroup open them. */
function applyDevices(config: OciConfig, devices: readonly ContainerDevice[]): void {
  const byPath = new Map((config.linux.devices ?? []).map((d) => [d.path, d]));
  for (const { access, ...d } of devices) {
    byPath.set(d.path, d);
    config.linux.resources.devices.push({
      allow: true,
      type: d.type,
      major: d.major,
      minor: d.minor,
      access,
    });
  }
  config.linux.devices = [...byPath.values()];
}

/**
 * As `docker run --privileged`: every capability, every device (the caller passes the
 * host's devices), no seccomp or AppArmor profile, nothing masked or read-only in /proc,
 * /sys and the cgroup tree writable, and no no-new-privileges unless asked for.
 */
function applyPrivileged(config: OciConfig, capabilities: readonly string[], noNewPrivileges: boolean): void {
  const all = [...capabilities];
  const root = config.process.user.uid === 0;
  config.process.capabilities = {
    bounding: all,
    effective: root ? all : [],
    permitted: root ? all : [],
    inheritable: [],
    ambient: [],
  };
  config.process.noNewPrivileges = noNewPrivileges;
  config.linux.resources.devices = [{ allow: true, access: 'rwm' }];
  config.linux.maskedPaths = [];
  config.linux.readonlyPaths = [];
  // Whatever confinement profiles the config carries (seccomp, AppArmor) go.
  delete (config.linux as { seccomp?: unknown }).seccomp;
  delete (config.process as { apparmorProfile?: unknown }).apparmorProfile;
  for (const m of config.mounts) {
    if (
      (m.destination === '/sys' && m.type === 'sysfs') ||
      (m.destination === '/sys/fs/cgroup' && m.type === 'cgroup')
    )
      m.options = (m.options ?? []).map((o) => (o === 'ro' ? 'rw' : o));
  }
}

function buildRlimits(
  ulimits: Ulimit[],
  hostHard: Record<string, number>,
): { type: string; hard: number; soft: number }[] {
  const byType = new Map<string, { type: string; hard: number; soft: number }>();
  const nofileHard = hostHard.RLIMIT_NOFILE ?? DEFAULT_NOFILE;
  const nofile = Math.min(DEFAULT_NOFILE, nofileHard);
  byType.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile });
  for (const u of ulimits) {
    const type = RLIMIT_TYPES[u.Name.toLowerCase()];
    if (!type) {
      throw new SkiffError('invalid_argument', `unknown ulimit '${u.Name}'`, {
        hint: `use one of ${Object.keys(RLIMIT_TYPES).join(', ')}`,
      });
    }
    if (u.Soft > u.Hard) {
      throw new SkiffError(
        'invalid_argument',
        `ulimit ${u.Name}: soft limit ${u.Soft} is above the hard limit ${u.Hard}`,
      );
    }
    const max = hostHard[type];
    if (max !== undefined && u.Hard > max) {
      throw new SkiffError(
        'invalid_argument',
        `ulimit ${u.Name}: hard limit ${u.Hard} is above this node's hard limit ${max}`,
        { hint: `ask for at most ${max}, or raise the node's limit for the skiff agent` },
      );
    }
    byType.set(type, { type, hard: u.Hard, soft: u.Soft });
  }
  return [...byType.values()];
}

/** A later mount with the same destination replaces an earlier one (user mounts over defaults). */
function mergeMounts(defaults: OciMount[], extra: OciMount[]): OciMount[] {
  const dests = new Set(extra.map((m) => m.destination));
  const kept = defaults.filter((m) => !dests.has(m.destination) && !isUnder(m.destination, dests));
  return [...kept, ...extra];
}

function isUnder(path: string, parents: Set<string>): boolean {
  // A user mount on /dev replaces /dev/pts etc. too; on /sys the cgroup mount goes with it.
  for (const p of parents)
    if (p !== '/' && path.startsWith(`${p}/`) && (p === '/dev' || p === '/sys')) return true;
  return false;
}
