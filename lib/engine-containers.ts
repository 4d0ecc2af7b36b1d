// The Docker Engine API's container shapes, as far as skiff serves them (docs/engine-api.md):
// the create body it reads and the list and inspect answers it gives. Plain types; the
// checks of a create body live in agent/containers (refusing what skiff cannot honour).

/** `POST /containers/create`: Docker's ContainerConfig with HostConfig and NetworkingConfig. */
export interface EngineContainerCreateBody {
  Image?: string;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  Hostname?: string;
  StopSignal?: string;
  StopTimeout?: number | null;
  ExposedPorts?: Record<string, unknown> | null;
  HostConfig?: EngineHostConfig | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> | null } | null;
  [key: string]: unknown;
}

export interface EnginePortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface EngineHostConfig {
  Binds?: string[] | null;
  PortBindings?: Record<string, EnginePortBinding[] | null> | null;
  AutoRemove?: boolean;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
  NetworkMode?: string;
  Init?: boolean | null;
  [key: string]: unknown;
}

/** One row of `GET /containers/json`. */
export interface EngineContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Labels: Record<string, string>;
  State: string;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EngineEndpointSettings> };
  Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
}

/** `GET /containers/{id}/json`, the parts skiff knows. */
export interface EngineContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Image: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: EngineHostConfig;
  Config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    Labels: Record<string, string>;
    Tty: boolean;
    OpenStdin: boolean;
    StdinOnce: boolean;
    AttachStdin: boolean;
    AttachStdout: boolean;
    AttachStderr: boolean;
  };
  NetworkSettings: {
    IPAddress: string;
    Ports: Record<string, EnginePortBinding[] | null>;
    Networks: Record<string, EngineEndpointSettings>;
  };
  Mounts: { Type: string; Source: string; Destination: string; RW: boolean }[];
}

/** A container's endpoint on one network, as inspect and list show it. */
export interface EngineEndpointSettings {
  IPAddress: string;
  NetworkID: string;
  Gateway: string;
  /** The names it answers to on the network (a user network's aliases, with its short ID). */
  Aliases?: string[] | null;
  DNSNames?: string[] | null;
  EndpointID?: string;
  IPPrefixLen?: number;
  MacAddress?: string;
}

/** A node-local network (Docker's `bridge` and user bridge networks) as the Engine API shows it. */
export interface EngineLocalNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string>; Config: { Subnet?: string; Gateway?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<
    string,
    { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }
  >;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `POST /containers/{id}/wait?condition=`: Docker's three conditions. */
/** `GET /containers/{id}/top`: the `ps` columns and one row per process of the container. */
export interface EngineContainerTop {
  Titles: string[];
  Processes: string[][];
}

/** `POST /containers/prune`. */
export interface EngineContainerPrune {
  ContainersDeleted: string[];
  SpaceReclaimed: number;
}

/** `X-Docker-Container-Path-Stat` (base64 JSON) of `HEAD`/`GET /containers/{id}/archive`. */
export interface EnginePathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits: permissions, with 1<<31 for a directory and 1<<27 for a symlink. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export const WAIT_CONDITIONS = ['not-running', 'next-exit', 'removed'] as const;
export type WaitCondition = (typeof WAIT_CONDITIONS)[number];
