// The Docker Engine API's swarm object model (v1.44), used as skiff's native model
// in the store, the API and between components. Field names and shapes follow the
// API exactly so the real `docker` CLI works unchanged; skiff extensions live in
// labels or under `x-skiff` keys, never in a documented field.

export type Labels = Record<string, string>;

/** Object version for optimistic concurrency (`?version=`). */
export interface ObjectVersion {
  Index: number;
}

/** Fields every stored object carries. */
export interface Meta {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
}

export interface Platform {
  Architecture?: string;
  OS?: string;
}

export interface Driver {
  Name: string;
  Options?: Record<string, string>;
}

// ---------------------------------------------------------------- containers

export interface Mount {
  Target: string;
  Source?: string;
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Labels;
    DriverConfig?: Driver;
    Subpath?: string;
  };
  TmpfsOptions?: {
    SizeBytes?: number;
    Mode?: number;
  };
}

export interface HealthConfig {
  /** ["NONE"], ["CMD", args…], ["CMD-SHELL", command] */
  Test?: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface FileReference {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

export interface SecretReference {
  File?: FileReference;
  SecretID: string;
  SecretName: string;
}

export interface ConfigReference {
  File?: FileReference;
  /** Empty in Docker's API; whatever a client sends in it is kept. */
  Runtime?: Record<string, unknown>;
  ConfigID: string;
  ConfigName: string;
}

/** Docker's `ContainerSpec.Privileges` (API 1.44): what confines the container's process. */
export interface Privileges {
  /** `default`: the node's default profile; `unconfined`: none; `custom`: `Profile` (JSON). */
  Seccomp?: { Mode?: 'default' | 'unconfined' | 'custom'; Profile?: string };
  /** `default`: the node's default profile where the kernel has AppArmor; `disabled`: none. */
  AppArmor?: { Mode?: 'default' | 'disabled' };
  NoNewPrivileges?: boolean;
}

/** A host device given to the container (Docker's `HostConfig.Devices` entry). */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  /** Cgroup permissions, any of `r`, `w`, `m`; `rwm` when empty. */
  CgroupPermissions?: string;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Labels;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  /** Nanoseconds. */
  StopGracePeriod?: number;
  HealthCheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: SecretReference[];
  Configs?: ConfigReference[];
  Isolation?: string;
  Init?: boolean | null;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: Ulimit[];
  Privileges?: Privileges;
  /** skiff's extension beyond Swarm (moby#24862): every capability, every device, no seccomp. */
  Privileged?: boolean;
  /** skiff's extension beyond Swarm (swarmkit#1244): host devices, as `docker run --device`. */
  Devices?: DeviceMapping[];
}

export interface ResourceObject {
  NanoCPUs?: number;
  MemoryBytes?: number;
  GenericResources?: unknown[];
}

export interface Resources {
  Limits?: ResourceObject & { Pids?: number };
  Reservations?: ResourceObject;
}

export interface RestartPolicy {
  Condition?: 'none' | 'on-failure' | 'any';
  /** Nanoseconds. */
  Delay?: number;
  MaxAttempts?: number;
  /** Nanoseconds. */
  Window?: number;
}

export interface PlacementPreference {
  Spread?: { SpreadDescriptor: string };
}

export interface Placement {
  Constraints?: string[];
  Preferences?: PlacementPreference[];
  MaxReplicas?: number;
  Platforms?: Platform[];
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  ContainerSpec?: ContainerSpec;
  Resources?: Resources;
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  /** Bumped to force a redeploy without another change. */
  ForceUpdate?: number;
  Runtime?: string;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: Driver;
}

// ------------------------------------------------------------------ services

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  /** Empty in Docker's API, as is GlobalJob; whatever a client sends in them is kept. */
  Global?: Record<string, unknown>;
  ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
  GlobalJob?: Record<string, unknown>;
}

export interface UpdateConfig {
  Parallelism?: number;
  /** Nanoseconds. */
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  /** Nanoseconds. */
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceSpec {
  Name?: string;
  Labels?: Labels;
  TaskTemplate?: TaskSpec;
  Mode?: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  /** Deprecated in the API in favour of TaskTemplate.Networks; still accepted. */
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export interface EndpointVirtualIP {
  NetworkID: string;
  Addr: string;
}

export interface Endpoint {
  Spec?: EndpointSpec;
  Ports?: PortConfig[];
  VirtualIPs?: EndpointVirtualIP[];
}

export type UpdateState =
  | 'updating'
  | 'paused'
  | 'completed'
  | 'rollback_started'
  | 'rollback_paused'
  | 'rollback_completed';

export interface UpdateStatus {
  State?: UpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface Service extends Meta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: Endpoint;
  UpdateStatus?: UpdateStatus;
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
  JobStatus?: { JobIteration: ObjectVersion; LastExecution?: string };
}

// --------------------------------------------------------------------- tasks

/** Task states in order; a task only moves forward through them. */
export const TASK_STATES = [
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Terminal states: once here, a task never runs again. */
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
]);

export function taskStateRank(s: TaskState): number {
  return TASK_STATES.indexOf(s);
}

export interface ContainerStatus {
  ContainerID?: string;
  PID?: number;
  ExitCode?: number;
}

export interface TaskStatus {
  Timestamp?: string;
  State?: TaskState;
  Message?: string;
  Err?: string;
  ContainerStatus?: ContainerStatus;
  PortStatus?: { Ports?: PortConfig[] };
}

export interface NetworkAttachment {
  Network: Network;
  Addresses: string[];
}

export interface Task extends Meta {
  Name?: string;
  Labels?: Labels;
  Spec: TaskSpec;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  AssignedGenericResources?: unknown[];
  Status: TaskStatus;
  DesiredState: TaskState;
  NetworksAttachments?: NetworkAttachment[];
  JobIteration?: ObjectVersion;
  /**
   * The service's endpoint as this task must publish it (swarmkit carries it on the
   * task too); the agent binds host-mode ports, and in single-node mode all ports.
   */
  Endpoint?: Endpoint;
}

// --------------------------------------------------------------------- nodes

export interface NodeSpec {
  Name?: string;
  Labels?: Labels;
  Role?: 'worker' | 'manager';
  Availability?: 'active' | 'pause' | 'drain';
}

export interface NodeDescription {
  Hostname?: string;
  Platform?: Platform;
  Resources?: ResourceObject;
  Engine?: { EngineVersion?: string; Labels?: Labels; Plugins?: { Type: string; Name: string }[] };
  TLSInfo?: TLSInfo;
}

export interface TLSInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

export interface Node extends Meta {
  Spec: NodeSpec;
  Description?: NodeDescription;
  Status: { State: 'unknown' | 'down' | 'ready' | 'disconnected'; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
}

// ------------------------------------------------------------------ networks

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IPAM {
  Driver?: string;
  Config?: IPAMConfig[];
  Options?: Record<string, string>;
}

/** The network object as the /networks endpoints return it. */
export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'swarm' | 'local' | 'global';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: IPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  Options: Record<string, string>;
  Labels: Labels;
}

export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  /** Refused by skiff; part of the request so the API can say so. */
  ConfigOnly?: boolean;
  IPAM?: IPAM;
  EnableIPv6?: boolean;
  Options?: Record<string, string>;
  Labels?: Labels;
}

// ------------------------------------------------------- secrets and configs

export interface SecretSpec {
  Name?: string;
  Labels?: Labels;
  /** Base64 data; never returned by inspect. */
  Data?: string;
  Driver?: Driver;
  Templating?: Driver;
}

export interface Secret extends Meta {
  Spec: SecretSpec;
}

export interface ConfigSpec {
  Name?: string;
  Labels?: Labels;
  /** Base64 data. */
  Data?: string;
  Templating?: Driver;
}

export interface Config extends Meta {
  Spec: ConfigSpec;
}

// --------------------------------------------------------------------- swarm

export interface SwarmSpec {
  Name?: string;
  Labels?: Labels;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: {
    SnapshotInterval?: number;
    KeepOldSnapshots?: number;
    LogEntriesForSlowFollowers?: number;
    ElectionTick?: number;
    HeartbeatTick?: number;
  };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number };
  /** A client may send the object without the flag: absent means false. */
  EncryptionConfig?: { AutoLockManagers?: boolean };
  TaskDefaults?: { LogDriver?: Driver };
}

export interface JoinTokens {
  Worker: string;
  Manager: string;
}

export interface Swarm extends Meta {
  Spec: SwarmSpec;
  TLSInfo?: TLSInfo;
  RootRotationInProgress?: boolean;
  DataPathPort?: number;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  JoinTokens?: JoinTokens;
}

// ------------------------------------------------- networks as the store keeps them

/** IPAM settings of a swarm network: the driver and the pools the allocator assigned. */
export interface IPAMOptions {
  Driver?: Driver;
  Configs?: IPAMConfig[];
}

/** What a user asks for when creating a swarm-scoped network (the engine's swarm NetworkSpec). */
export interface SwarmNetworkSpec {
  Name: string;
  Labels?: Labels;
  DriverConfiguration?: Driver;
  IPv6Enabled?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  IPAMOptions?: IPAMOptions;
  Scope?: string;
}

/**
 * A swarm network as the manager's store keeps it. The allocator fills `DriverState`
 * (e.g. the VXLAN ID in its options) and `IPAMOptions` (subnets, gateways); the
 * /networks endpoints present it in the `Network` shape.
 */
export interface SwarmNetwork extends Meta {
  Spec: SwarmNetworkSpec;
  DriverState?: Driver;
  IPAMOptions?: IPAMOptions;
}
