// The public types of the compose loader: options, results, errors and the normalized
// project model. Field names follow the Compose Specification (as `docker compose config`
// prints them); durations are nanoseconds and sizes are bytes in the model.

import type { ComposeSourcePart, DependencyCondition, Privileges } from '../lib/index.js';

export type { ComposeSourcePart } from '../lib/index.js';

export interface ComposeError {
  file: string;
  /** 1-based; 0 when the error has no place in a file (e.g. a missing file). */
  line: number;
  col: number;
  /** Where in the model: `services.web.ports[1]`; empty for the whole file. */
  path: string;
  message: string;
}

export type ComposeWarning = ComposeError;

export interface LoadOptions {
  /** Compose files; when empty, compose.yaml / compose.yml / docker-compose.yaml / docker-compose.yml in workingDir. */
  files: string[];
  /** The project directory; defaults to the directory of the first file (or the current directory). */
  workingDir?: string;
  projectName?: string;
  /** Replaces `.env` in the project directory; later files win. */
  envFiles?: string[];
  profiles?: string[];
  /** The process environment; defaults to process.env. It wins over env files. */
  env?: Record<string, string | undefined>;
  /** How files are read; defaults to the local file system (tests pass files held in memory). */
  reader?: ComposeFileReader;
  /** `${VAR}` substitution (default on; `compose config --no-interpolate` turns it off). */
  interpolate?: boolean;
  /** Implied defaults: default network, resource names, depends_on from links (default on). */
  normalize?: boolean;
  /** Cross-reference checks: undeclared networks/volumes/secrets, cycles, port clashes (default on). */
  consistency?: boolean;
  /** Relative paths made absolute against the project directory (default on). */
  resolvePaths?: boolean;
  /** Folds env_file into environment and label_file into labels, as `docker compose config` prints them. */
  resolveFiles?: boolean;
  /** Keeps top-level networks, volumes, secrets and configs no service uses (compose-go keeps them). */
  keepUnused?: boolean;
  /** Also returns each service's sections of the files as written (`LoadResult.sources`), for the deployer's label. */
  sources?: boolean;
}

/** The loader's only I/O: reading compose and env files, and asking whether a file exists. */
export interface ComposeFileReader {
  /** The file's text; throws an error with `code` ENOENT/EISDIR/… when it cannot. */
  readText(path: string): string;
  isFile(path: string): boolean;
}

export type LoadResult =
  | {
      ok: true;
      project: ComposeProject;
      warnings: ComposeWarning[];
      /** With `sources`: each service's sections of the files as written, keyed by service name. */
      sources?: Record<string, ComposeSourcePart[]>;
    }
  | { ok: false; errors: ComposeError[] };

export type Extensions = { [key: `x-${string}`]: unknown };

export interface ServicePort {
  name?: string;
  mode: 'ingress' | 'host';
  host_ip?: string;
  target: number;
  /** A port or a range (`8000-8010`), as a string the way compose prints it. */
  published?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  app_protocol?: string;
}

export interface ServiceVolume {
  type: 'bind' | 'volume' | 'tmpfs' | 'cluster' | 'npipe' | 'image';
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; recursive?: string; selinux?: 'z' | 'Z' };
  volume?: { nocopy?: boolean; subpath?: string; labels?: Record<string, string> };
  tmpfs?: { size?: number; mode?: number };
  image?: { subpath?: string };
}

export interface ServiceFileRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface ServiceNetwork {
  aliases?: string[];
  interface_name?: string;
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  mac_address?: string;
  driver_opts?: Record<string, string>;
  priority?: number;
  gw_priority?: number;
}

export interface ServiceDependency {
  condition: DependencyCondition;
  required: boolean;
  restart: boolean;
}

export interface EnvFileRef {
  path: string;
  required: boolean;
  format?: string;
}

export interface Healthcheck {
  /** ["NONE"], ["CMD", …] or ["CMD-SHELL", command]. */
  test?: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  start_period?: number;
  start_interval?: number;
  disable?: boolean;
}

export interface UpdateOrRollback {
  parallelism?: number;
  delay?: number;
  failure_action?: string;
  monitor?: number;
  max_failure_ratio?: number;
  order?: 'start-first' | 'stop-first';
}

export interface ResourceSpec {
  cpus?: number;
  memory?: number;
  pids?: number;
  generic_resources?: { discrete_resource_spec?: { kind?: string; value?: number } }[];
  devices?: {
    capabilities: string[];
    count?: number | 'all';
    device_ids?: string[];
    driver?: string;
    options?: Record<string, string>;
  }[];
}

export interface DeployConfig {
  mode?: 'replicated' | 'global' | 'replicated-job' | 'global-job';
  replicas?: number;
  endpoint_mode?: 'vip' | 'dnsrr';
  labels?: Record<string, string>;
  update_config?: UpdateOrRollback;
  rollback_config?: UpdateOrRollback;
  resources?: { limits?: ResourceSpec; reservations?: ResourceSpec };
  restart_policy?: {
    condition?: 'none' | 'on-failure' | 'any';
    delay?: number;
    max_attempts?: number;
    window?: number;
  };
  placement?: { constraints?: string[]; preferences?: { spread: string }[]; max_replicas_per_node?: number };
}

export interface Ulimit {
  single?: number;
  soft?: number;
  hard?: number;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  args?: Record<string, string | null>;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface ComposeService {
  name: string;
  image?: string;
  build?: BuildConfig;
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  env_file?: EnvFileRef[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ports?: ServicePort[];
  expose?: string[];
  volumes?: ServiceVolume[];
  tmpfs?: string[];
  networks?: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  depends_on?: Record<string, ServiceDependency>;
  links?: string[];
  volumes_from?: string[];
  secrets?: ServiceFileRef[];
  configs?: ServiceFileRef[];
  healthcheck?: Healthcheck;
  deploy?: DeployConfig;
  restart?: string;
  profiles?: string[];
  container_name?: string;
  hostname?: string;
  user?: string;
  working_dir?: string;
  init?: boolean;
  privileged?: boolean;
  read_only?: boolean;
  stdin_open?: boolean;
  tty?: boolean;
  stop_grace_period?: number;
  stop_signal?: string;
  ulimits?: Record<string, Ulimit>;
  shm_size?: number;
  mem_limit?: number;
  mem_reservation?: number;
  memswap_limit?: number;
  cpus?: number;
  pids_limit?: number;
  cap_add?: string[];
  cap_drop?: string[];
  dns?: string[];
  dns_search?: string[];
  dns_opt?: string[];
  extra_hosts?: Record<string, string[]>;
  sysctls?: Record<string, string>;
  devices?: { source: string; target?: string; permissions?: string }[];
  device_cgroup_rules?: string[];
  security_opt?: string[];
  userns_mode?: string;
  /** Derived from security_opt (a seccomp profile file's text included); not printed by `compose config`. */
  privileges?: Privileges;
  logging?: { driver?: string; options?: Record<string, string | null> };
  scale?: number;
  /** Other spec keys, kept as written (validated by the schema). */
  [key: string]: unknown;
}

export interface ComposeNetwork {
  /** Absent only when loaded with `normalize: false`. */
  name?: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  ipam?: {
    driver?: string;
    config?: {
      subnet?: string;
      ip_range?: string;
      gateway?: string;
      aux_addresses?: Record<string, string>;
    }[];
    options?: Record<string, string>;
  };
  external?: boolean;
  internal?: boolean;
  enable_ipv4?: boolean;
  enable_ipv6?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  [key: `x-${string}`]: unknown;
}

export interface ComposeVolume {
  /** Absent only when loaded with `normalize: false`. */
  name?: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  external?: boolean;
  labels?: Record<string, string>;
  [key: `x-${string}`]: unknown;
}

export interface ComposeSecretOrConfig {
  /** Absent only when loaded with `normalize: false`. */
  name?: string;
  file?: string;
  environment?: string;
  /** Configs only. */
  content?: string;
  external?: boolean;
  labels?: Record<string, string>;
  driver?: string;
  driver_opts?: Record<string, string>;
  template_driver?: string;
  [key: `x-${string}`]: unknown;
}

export interface ComposeProject {
  name: string;
  /** Absolute project directory; relative paths in the files were resolved against it. */
  workingDir: string;
  /** The files the project was loaded from (absolute). */
  files: string[];
  /** Profiles that were active. */
  profiles: string[];
  /** Variables interpolation saw (process environment over env files); used for env lookups later. */
  environment: Record<string, string>;
  services: Record<string, ComposeService>;
  networks: Record<string, ComposeNetwork>;
  volumes: Record<string, ComposeVolume>;
  secrets: Record<string, ComposeSecretOrConfig>;
  configs: Record<string, ComposeSecretOrConfig>;
  models?: Record<string, unknown>;
  /** Top-level `x-` keys. */
  extensions: Record<string, unknown>;
}
