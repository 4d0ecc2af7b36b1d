// The body of Docker's `GET /info` for the node serving it, shared by a manager's API
// and a worker's socket: what the node really is (its kernel, OS, CPUs, memory, cgroup
// version, runtime, counts), with the Swarm section each role can honestly fill in.
import { readFile, statfs } from 'node:fs/promises';
import { cpus, machine, release, totalmem } from 'node:os';
import type { NodeCounts } from './context.js';

/** Docker's `Info.Swarm`: a manager fills in the cluster, a worker only what it knows. */
export interface EngineSwarmInfo {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: 'active' | 'inactive';
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: { NodeID: string; Addr: string }[];
  /** Managers only: a worker does not know the cluster's nodes. */
  Nodes?: number;
  Managers?: number;
  Cluster?: unknown;
}

export interface EngineInfoInput {
  nodeId: string;
  hostname: string;
  version: string;
  stateDir: string;
  counts: NodeCounts;
  security: { options: string[]; warnings: string[] };
  eventListeners: number;
  now: Date;
  swarm: EngineSwarmInfo;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The host's OS as dockerd shows it (os-release's PRETTY_NAME and VERSION_ID). */
async function hostOs(): Promise<{ name: string; version: string }> {
  let text = '';
  try {
    text = await readFile('/etc/os-release', 'utf8');
  } catch {
    return { name: 'Linux', version: '' };
  }
  const field = (key: string) => {
    const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
    return m ? m[1]!.replace(/^"(.*)"$/, '$1') : '';
  };
  return { name: field('PRETTY_NAME') || 'Linux', version: field('VERSION_ID') };
}

async function cgroupVersion(): Promise<'1' | '2'> {
  try {
    return (await statfs('/sys/fs/cgroup')).type === CGROUP2_SUPER_MAGIC ? '2' : '1';
  } catch {
    return '1';
  }
}

export async function engineInfo(o: EngineInfoInput) {
  const os = await hostOs();
  return {
    ID: o.nodeId,
    Containers: o.counts.containers,
    ContainersRunning: o.counts.running,
    ContainersPaused: o.counts.paused,
    ContainersStopped: o.counts.stopped,
    Images: o.counts.images,
    Driver: 'overlay',
    DriverStatus: [],
    Plugins: { Volume: ['local'], Network: ['bridge', 'overlay'], Authorization: null, Log: ['k8s-file'] },
    MemoryLimit: true,
    SwapLimit: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    OomKillDisable: false,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: o.now.toISOString(),
    LoggingDriver: 'k8s-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: await cgroupVersion(),
    NEventsListener: o.eventListeners,
    KernelVersion: release(),
    OperatingSystem: os.name,
    OSVersion: os.version,
    OSType: 'linux',
    Architecture: machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: o.stateDir,
    Name: o.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: o.version,
    Runtimes: { crun: { path: 'crun' }, runc: { path: 'runc' } },
    DefaultRuntime: 'crun',
    Swarm: o.swarm,
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: 'catatonit',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    SecurityOptions: o.security.options,
    Warnings: o.security.warnings,
  };
}

/** A node without an agent runs no containers and keeps no images. */
export const NO_COUNTS: NodeCounts = { containers: 0, running: 0, paused: 0, stopped: 0, images: 0 };
