// The runtime's public shapes: what the worker hands over to create a container and
// what it reads back. Field names follow the Docker API where one exists.
import type { Readable } from 'node:stream';
import type { ContainerSpec, Logger, Resources } from '../../lib/index.js';
import type { ContainerFile } from '../volume/index.js';

export type { ContainerFile };

/** The `config` section of an OCI image config (the parts a container run needs). */
export interface ImageRunConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  Healthcheck?: {
    Test?: string[];
    /** Nanoseconds, as in the image config. */
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
    StartInterval?: number;
  };
}

export interface ContainerCreateSpec {
  id: string;
  name: string;
  /** A prepared root filesystem directory (the snapshotter's mount). */
  rootfs: string;
  imageConfig: ImageRunConfig;
  spec: ContainerSpec;
  resources?: Resources;
  /** Network namespace from the network layer; absent: a private one with only `lo`. */
  netnsPath?: string;
  hostname?: string;
  /** Contents of /etc/hosts; default: localhost entries, the hostname and spec.Hosts. */
  hostsFile?: string;
  /** Contents of /etc/resolv.conf; default: from spec.DNSConfig or the host's. */
  resolvConf?: string;
  labels?: Record<string, string>;
  files?: ContainerFile[];
  /** With spec.OpenStdin: the container's stdin closes when the first attached client's input ends (Docker's StdinOnce). */
  stdinOnce?: boolean;
  /** With spec.TTY: the terminal's size from its start (Docker's HostConfig.ConsoleSize). */
  consoleSize?: { height: number; width: number };
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthProbeResult {
  start: Date;
  end: Date;
  exitCode: number;
  output: string;
}

export interface ContainerHealth {
  status: HealthStatus;
  failingStreak: number;
  log: HealthProbeResult[];
}

export interface ContainerInfo {
  id: string;
  name: string;
  state: ContainerState;
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  health?: ContainerHealth;
  labels: Record<string, string>;
  /** The directory holding the bundle (config.json) and the container's log. */
  bundle: string;
  logPath: string;
  /** Frozen by `pause` (its processes stay, stopped by the cgroup freezer). */
  paused?: boolean;
}

export type ContainerEvent =
  | { type: 'start'; id: string; pid: number }
  | { type: 'exit'; id: string; exitCode: number; oomKilled: boolean; finishedAt: Date }
  | { type: 'health'; id: string; health: HealthStatus; failingStreak: number };

/**
 * A container's lifecycle as Docker's events name it (`docker events --filter
 * type=container`), with what the event shows of the container.
 */
export interface ContainerLifecycleEvent {
  action: 'create' | 'start' | 'die' | 'destroy' | 'health_status';
  id: string;
  name: string;
  labels: Record<string, string>;
  exitCode?: number;
  oomKilled?: boolean;
  health?: HealthStatus;
  time: Date;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: Date;
  line: string;
}

export interface LogOptions {
  follow?: boolean;
  /** Only entries at or after this time. */
  since?: Date;
  /** Only the last N entries (before following). */
  tail?: number;
  /** Accepted for API symmetry: every entry carries its time; printing it is the caller's choice. */
  timestamps?: boolean;
  /** Stop following when this signal aborts. */
  signal?: AbortSignal;
}

export interface ExecOptions {
  tty?: boolean;
  env?: string[];
  user?: string;
  cwd?: string;
  /** What the command reads; a stream is fed as it comes (without a TTY only). */
  stdin?: string | Uint8Array | Readable;
  /** Kills the exec'd process after this many milliseconds (exit code 137). */
  timeoutMs?: number;
  /** Streams output as it comes (then the result's stdout/stderr stay empty); with a TTY, line by line. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Kills the exec'd process when aborted (the client went away). */
  signal?: AbortSignal;
  /**
   * With a TTY: run interactively (the terminal's input from `stdin`, output raw as it
   * comes); called with the terminal's resize control once the command is on its way.
   */
  onStarted?: (control: ExecControl) => void;
  /** The terminal's initial size, with a TTY. */
  consoleSize?: { height: number; width: number };
}

export interface ExecControl {
  resize(height: number, width: number): void;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The command was killed because it ran past `timeoutMs`. */
  timedOut?: boolean;
}

export interface StopOptions {
  /** Default: the container's StopSignal, then the image's, then SIGTERM. */
  signal?: string;
  /** Default: the spec's StopGracePeriod, else 10 s. */
  graceMs?: number;
}

export interface ContainerRuntimeOptions {
  /** Persistent state, e.g. /var/lib/skiff/<node>/containers. */
  root: string;
  /** Volatile state (runtime state, exit files, tmpfs for secrets), e.g. /run/skiff/<node>. */
  runRoot: string;
  runtime?: 'crun' | 'runc';
  logger?: Logger;
  /** Named volumes; default: a VolumeManager on `<root>/../volumes`. */
  volumesRoot?: string;
  /** Parent cgroup (v1 hierarchies) for containers; default /skiff/<basename of runRoot>. */
  cgroupParent?: string;
  /** Log files are rotated when they exceed this size; default 10 MiB. */
  logSizeMax?: number;
  /** Path to conmon; default found on PATH. */
  conmonPath?: string;
  /** Path to the init for `Init: true`; default catatonit, else tini. */
  initPath?: string;
  /** The default seccomp profile; default containers-common's /usr/share/containers/seccomp.json. */
  seccompProfile?: string;
  /** Whether to confine containers with AppArmor; default: whether the kernel has it enabled. */
  apparmor?: boolean;
}

/** What confines this node's containers by default, for /info's SecurityOptions and Warnings. */
export interface SecurityInfo {
  options: string[];
  warnings: string[];
}
