// The compose file schema, written for skiff with zod (zod/mini: functional checks instead
// of methods bound on every schema, which halves the schema's construction and its code at
// every compose command's start) after the Compose Specification
// (validated after interpolation, as the spec says; most typed fields also accept a
// string because interpolation produces strings — normalization converts them).
// A test checks that it agrees with the upstream JSON Schema on the corpus.

import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { DEPENDENCY_CONDITIONS } from '../lib/index.js';
import type { PathSegment } from './positions.js';

// zod/mini sets no locale: without it, a check with no message of its own says "Invalid input".
z.config(en());

const NAME_RE = /^[a-zA-Z0-9._-]+$/;

function stripExtensions(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  let copy: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    if (k.startsWith('x-')) {
      copy ??= { ...(v as Record<string, unknown>) };
      delete copy[k];
    }
  }
  return copy ?? v;
}

/** A mapping with exactly these keys plus `x-` extensions. */
function obj<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.pipe(z.transform(stripExtensions), z.strictObject(shape, { error: 'must be a mapping' }));
}
/** A mapping with exactly these keys, no extensions. */
function closed<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: 'must be a mapping' });
}

function unique<T extends z.ZodMiniType>(item: T, what: string) {
  return z
    .array(item, { error: `must be a list of ${what}` })
    .check(z.refine((a) => new Set(a.map(keyOf)).size === a.length, { message: 'must not repeat an item' }));
}
function keyOf(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : `${typeof v}:${String(v)}`;
}

const str = z.string({ error: 'must be a string' });
// Any integral number, as JSON Schema's integer (z.int() would also demand a safe integer).
const int = z
  .number({ error: 'must be a number' })
  .check(z.refine(Number.isInteger, 'must be a whole number'));
const num = z.number({ error: 'must be a number' });
const bool = z.boolean({ error: 'must be true or false' });
const strOr = <T extends z.ZodMiniType>(t: T, what: string) =>
  z.union([t, str], { error: `must be ${what}` });
const boolish = strOr(bool, 'true or false');
const intish = strOr(int, 'a whole number or a string');
const numish = strOr(num, 'a number or a string');

const listOfStrings = unique(str, 'strings');
const stringOrList = z.union([str, listOfStrings], { error: 'must be a string or a list of strings' });
const scalarMap = z.record(
  z.string(),
  z.union([str, num, bool, z.null()], { error: 'must be a string, number, boolean or null' }),
  { error: 'must be a mapping' },
);
const listOrDict = z.union([scalarMap, unique(str, 'strings')], {
  error: 'must be a mapping or a list of "KEY=VALUE" strings',
});
const extraHosts = z.union(
  [
    z.record(
      z.string(),
      z.union([str, z.array(str)], { error: 'must be an address or a list of addresses' }),
    ),
    unique(str, 'strings'),
  ],
  { error: 'must be a mapping of host to address or a list of "host:address" strings' },
);
const command = z.union([z.null(), str, z.array(str)], { error: 'must be a string or a list of strings' });
const optsMap = z.record(z.string(), z.union([str, num], { error: 'must be a string or a number' }), {
  error: 'must be a mapping',
});

const serviceHook = obj({
  command,
  user: z.optional(str),
  privileged: z.optional(boolish),
  working_dir: z.optional(str),
  environment: z.optional(listOrDict),
});

const blkioLimit = closed({ path: z.optional(str), rate: z.optional(intish) });
const blkioWeight = closed({ path: z.optional(str), weight: z.optional(intish) });

const fileRef = z.array(
  z.union(
    [
      str,
      obj({
        source: z.optional(str),
        target: z.optional(str),
        uid: z.optional(str),
        gid: z.optional(str),
        mode: z.optional(numish),
      }),
    ],
    { error: 'must be a name or a mapping with source/target/uid/gid/mode' },
  ),
  { error: 'must be a list' },
);

const ulimitValue = z.union([intish, obj({ soft: intish, hard: intish })], {
  error: 'must be a number or a mapping with soft and hard',
});
// Like the upstream schema: names of lower-case letters are checked, other keys are let
// through here (normalization rejects them, except x- extensions).
const ulimits = z.record(z.string(), z.unknown(), { error: 'must be a mapping' }).check(
  z.superRefine((o, ctx) => {
    for (const [k, v] of Object.entries(o)) {
      if (!/^[a-z]+$/.test(k)) continue;
      const r = ulimitValue.safeParse(v);
      if (r.success) continue;
      for (const issue of r.error.issues)
        ctx.addIssue({ ...issue, path: [k, ...issue.path] } as z.core.$ZodRawIssue);
    }
  }),
);

const deviceRequest = obj({
  capabilities: listOfStrings,
  count: z.optional(strOr(int, 'a number or "all"')),
  device_ids: z.optional(listOfStrings),
  driver: z.optional(str),
  options: z.optional(listOrDict),
});

const updateConfig = obj({
  parallelism: z.optional(intish),
  delay: z.optional(str),
  failure_action: z.optional(str),
  monitor: z.optional(str),
  max_failure_ratio: z.optional(numish),
  order: z.optional(z.enum(['start-first', 'stop-first'], { error: 'must be start-first or stop-first' })),
});

const deploy = z.union(
  [
    z.null(),
    obj({
      mode: z.optional(str),
      endpoint_mode: z.optional(str),
      replicas: z.optional(intish),
      labels: z.optional(listOrDict),
      rollback_config: z.optional(updateConfig),
      update_config: z.optional(updateConfig),
      resources: z.optional(
        obj({
          limits: z.optional(
            obj({ cpus: z.optional(numish), memory: z.optional(str), pids: z.optional(intish) }),
          ),
          reservations: z.optional(
            obj({
              cpus: z.optional(numish),
              memory: z.optional(str),
              generic_resources: z.optional(
                z.array(
                  obj({
                    discrete_resource_spec: z.optional(
                      obj({ kind: z.optional(str), value: z.optional(numish) }),
                    ),
                  }),
                ),
              ),
              devices: z.optional(z.array(deviceRequest)),
            }),
          ),
        }),
      ),
      restart_policy: z.optional(
        obj({
          condition: z.optional(str),
          delay: z.optional(str),
          max_attempts: z.optional(intish),
          window: z.optional(str),
        }),
      ),
      placement: z.optional(
        obj({
          constraints: z.optional(z.array(str)),
          preferences: z.optional(z.array(obj({ spread: z.optional(str) }))),
          max_replicas_per_node: z.optional(intish),
        }),
      ),
    }),
  ],
  { error: 'must be a mapping' },
);

const healthcheck = obj({
  disable: z.optional(boolish),
  interval: z.optional(str),
  retries: z.optional(numish),
  test: z.optional(z.union([str, z.array(str)], { error: 'must be a string or a list of strings' })),
  timeout: z.optional(str),
  start_period: z.optional(str),
  start_interval: z.optional(str),
});

const build = z.union(
  [
    str,
    obj({
      context: z.optional(str),
      dockerfile: z.optional(str),
      dockerfile_inline: z.optional(str),
      entitlements: z.optional(z.array(str)),
      args: z.optional(listOrDict),
      ssh: z.optional(listOrDict),
      labels: z.optional(listOrDict),
      cache_from: z.optional(z.array(str)),
      cache_to: z.optional(z.array(str)),
      no_cache: z.optional(boolish),
      additional_contexts: z.optional(listOrDict),
      network: z.optional(str),
      provenance: z.optional(boolish),
      sbom: z.optional(boolish),
      pull: z.optional(boolish),
      target: z.optional(str),
      shm_size: z.optional(intish),
      extra_hosts: z.optional(extraHosts),
      isolation: z.optional(str),
      privileged: z.optional(boolish),
      secrets: z.optional(fileRef),
      tags: z.optional(z.array(str)),
      ulimits: z.optional(ulimits),
      platforms: z.optional(z.array(str)),
    }),
  ],
  { error: 'must be a path or a mapping' },
);

const portObject = obj({
  name: z.optional(str),
  mode: z.optional(str),
  host_ip: z.optional(str),
  target: z.optional(intish),
  published: z.optional(strOr(int, 'a port number or range')),
  protocol: z.optional(str),
  app_protocol: z.optional(str),
});

const volumeObject = obj({
  type: z.enum(['bind', 'volume', 'tmpfs', 'cluster', 'npipe', 'image'], {
    error: 'must be one of bind, volume, tmpfs, cluster, npipe, image',
  }),
  source: z.optional(str),
  target: z.optional(str),
  read_only: z.optional(boolish),
  consistency: z.optional(str),
  bind: z.optional(
    obj({
      propagation: z.optional(str),
      create_host_path: z.optional(boolish),
      recursive: z.optional(z.enum(['enabled', 'disabled', 'writable', 'readonly'])),
      selinux: z.optional(z.enum(['z', 'Z'])),
    }),
  ),
  volume: z.optional(
    obj({
      labels: z.optional(listOrDict),
      nocopy: z.optional(boolish),
      subpath: z.optional(str),
    }),
  ),
  tmpfs: z.optional(
    obj({
      size: z.optional(z.union([int.check(z.gte(0)), str], { error: 'must be a size' })),
      mode: z.optional(numish),
    }),
  ),
  image: z.optional(obj({ subpath: z.optional(str) })),
});

const serviceNetworkObject = obj({
  aliases: z.optional(listOfStrings),
  interface_name: z.optional(str),
  ipv4_address: z.optional(str),
  ipv6_address: z.optional(str),
  link_local_ips: z.optional(listOfStrings),
  mac_address: z.optional(str),
  driver_opts: z.optional(optsMap),
  priority: z.optional(num),
  gw_priority: z.optional(num),
});

const dependsOnObject = obj({
  restart: z.optional(boolish),
  required: z.optional(bool),
  condition: z.enum(DEPENDENCY_CONDITIONS, {
    error: 'must be service_started, service_healthy or service_completed_successfully',
  }),
});

const envFile = z.union(
  [
    str,
    z.array(
      z.union([str, closed({ path: str, format: z.optional(str), required: z.optional(boolish) })], {
        error: 'must be a path or a mapping with path, required and format',
      }),
    ),
  ],
  { error: 'must be a path or a list of paths' },
);

const serviceShape = {
  develop: z.optional(
    z.union([
      z.null(),
      obj({
        watch: z.optional(
          z.array(
            obj({
              ignore: z.optional(stringOrList),
              include: z.optional(stringOrList),
              path: str,
              action: z.enum(['rebuild', 'sync', 'restart', 'sync+restart', 'sync+exec']),
              target: z.optional(str),
              exec: z.optional(serviceHook),
              initial_sync: z.optional(bool),
            }),
          ),
        ),
      }),
    ]),
  ),
  deploy: z.optional(deploy),
  annotations: z.optional(listOrDict),
  attach: z.optional(boolish),
  build: z.optional(build),
  blkio_config: z.optional(
    closed({
      device_read_bps: z.optional(z.array(blkioLimit)),
      device_read_iops: z.optional(z.array(blkioLimit)),
      device_write_bps: z.optional(z.array(blkioLimit)),
      device_write_iops: z.optional(z.array(blkioLimit)),
      weight: z.optional(intish),
      weight_device: z.optional(z.array(blkioWeight)),
    }),
  ),
  cap_add: z.optional(listOfStrings),
  cap_drop: z.optional(listOfStrings),
  cgroup: z.optional(z.enum(['host', 'private'], { error: 'must be host or private' })),
  cgroup_parent: z.optional(str),
  command: z.optional(command),
  configs: z.optional(fileRef),
  container_name: z.optional(
    str.check(z.regex(/[a-zA-Z0-9][a-zA-Z0-9_.-]+/, 'is not a valid container name')),
  ),
  cpu_count: z.optional(z.union([str, int.check(z.gte(0))], { error: 'must be a number' })),
  cpu_percent: z.optional(
    z.union([str, int.check(z.gte(0), z.lte(100))], { error: 'must be a number from 0 to 100' }),
  ),
  cpu_shares: z.optional(numish),
  cpu_quota: z.optional(numish),
  cpu_period: z.optional(numish),
  cpu_rt_period: z.optional(numish),
  cpu_rt_runtime: z.optional(numish),
  cpus: z.optional(numish),
  cpuset: z.optional(str),
  credential_spec: z.optional(
    obj({ config: z.optional(str), file: z.optional(str), registry: z.optional(str) }),
  ),
  depends_on: z.optional(
    z.union([listOfStrings, z.record(z.string().check(z.regex(NAME_RE)), dependsOnObject)], {
      error: 'must be a list of services or a mapping of service to {condition, required, restart}',
    }),
  ),
  device_cgroup_rules: z.optional(listOfStrings),
  devices: z.optional(
    z.array(
      z.union([str, obj({ source: str, target: z.optional(str), permissions: z.optional(str) })], {
        error: 'must be "host:container[:perms]" or a mapping with source',
      }),
    ),
  ),
  dns: z.optional(stringOrList),
  dns_opt: z.optional(listOfStrings),
  dns_search: z.optional(stringOrList),
  domainname: z.optional(str),
  entrypoint: z.optional(command),
  env_file: z.optional(envFile),
  label_file: z.optional(stringOrList),
  environment: z.optional(listOrDict),
  expose: z.optional(unique(z.union([str, num], { error: 'must be a port' }), 'ports')),
  extends: z.optional(
    z.union([str, closed({ service: str, file: z.optional(str) })], {
      error: 'must be a service name or a mapping with service and file',
    }),
  ),
  provider: z.optional(
    obj({
      type: str,
      options: z.optional(
        z.record(z.string(), z.union([str, num, bool, z.array(z.union([str, num, bool]))])),
      ),
    }),
  ),
  external_links: z.optional(listOfStrings),
  extra_hosts: z.optional(extraHosts),
  gpus: z.optional(
    z.union([
      z.literal('all'),
      z.array(
        z.looseObject({
          capabilities: z.optional(listOfStrings),
          count: z.optional(strOr(int, 'a number or "all"')),
          device_ids: z.optional(listOfStrings),
          driver: z.optional(str),
          options: z.optional(listOrDict),
        }),
      ),
    ]),
  ),
  group_add: z.optional(unique(z.union([str, num]), 'groups')),
  healthcheck: z.optional(healthcheck),
  hostname: z.optional(str),
  image: z.optional(str),
  init: z.optional(boolish),
  ipc: z.optional(str),
  isolation: z.optional(str),
  labels: z.optional(listOrDict),
  links: z.optional(listOfStrings),
  logging: z.optional(
    obj({
      driver: z.optional(str),
      options: z.optional(z.record(z.string(), z.union([str, num, z.null()]))),
    }),
  ),
  mac_address: z.optional(str),
  mem_limit: z.optional(numish),
  mem_reservation: z.optional(intish),
  mem_swappiness: z.optional(intish),
  memswap_limit: z.optional(numish),
  network_mode: z.optional(str),
  models: z.optional(
    z.union([
      listOfStrings,
      z.record(
        z.string().check(z.regex(NAME_RE)),
        obj({ endpoint_var: z.optional(str), model_var: z.optional(str) }),
      ),
    ]),
  ),
  networks: z.optional(
    z.union(
      [
        listOfStrings,
        z.record(
          z.string().check(z.regex(NAME_RE)),
          z.union([serviceNetworkObject, z.null()], { error: 'must be a mapping or null' }),
        ),
      ],
      { error: 'must be a list of networks or a mapping of network to options' },
    ),
  ),
  oom_kill_disable: z.optional(boolish),
  oom_score_adj: z.optional(
    z.union([str, int.check(z.gte(-1000), z.lte(1000))], { error: 'must be a number from -1000 to 1000' }),
  ),
  pid: z.optional(z.union([str, z.null()])),
  pids_limit: z.optional(numish),
  platform: z.optional(str),
  ports: z.optional(
    unique(
      z.union([num, str, portObject], {
        error: 'must be a port ("8080:80"), a number or a mapping with target/published/protocol/mode',
      }),
      'ports',
    ),
  ),
  post_start: z.optional(z.array(serviceHook)),
  pre_stop: z.optional(z.array(serviceHook)),
  privileged: z.optional(boolish),
  profiles: z.optional(listOfStrings),
  pull_policy: z.optional(
    str.check(
      z.regex(/always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+/, {
        message: 'must be always, never, missing, build, daily, weekly or every_<duration>',
      }),
    ),
  ),
  pull_refresh_after: z.optional(str),
  read_only: z.optional(boolish),
  restart: z.optional(str),
  runtime: z.optional(str),
  scale: z.optional(intish),
  security_opt: z.optional(listOfStrings),
  shm_size: z.optional(numish),
  secrets: z.optional(fileRef),
  sysctls: z.optional(listOrDict),
  stdin_open: z.optional(boolish),
  stop_grace_period: z.optional(str),
  stop_signal: z.optional(str),
  storage_opt: z.optional(z.record(z.string(), z.unknown(), { error: 'must be a mapping' })),
  tmpfs: z.optional(stringOrList),
  tty: z.optional(boolish),
  ulimits: z.optional(ulimits),
  use_api_socket: z.optional(bool),
  user: z.optional(str),
  uts: z.optional(str),
  userns_mode: z.optional(str),
  volumes: z.optional(
    unique(
      z.union([str, volumeObject], {
        error: 'must be "source:target[:mode]" or a mapping with type and target',
      }),
      'volumes',
    ),
  ),
  volumes_from: z.optional(listOfStrings),
  working_dir: z.optional(str),
};

const service = obj(serviceShape);

const external = z.union([bool, str, obj({ name: z.optional(str) })], {
  error: 'must be true, false or a mapping with name',
});

const network = z.union(
  [
    z.null(),
    obj({
      name: z.optional(str),
      driver: z.optional(str),
      driver_opts: z.optional(optsMap),
      ipam: z.optional(
        obj({
          driver: z.optional(str),
          config: z.optional(
            z.array(
              obj({
                subnet: z.optional(str),
                ip_range: z.optional(str),
                gateway: z.optional(str),
                aux_addresses: z.optional(z.record(z.string(), str)),
              }),
            ),
          ),
          options: z.optional(z.record(z.string(), str)),
        }),
      ),
      external: z.optional(external),
      internal: z.optional(boolish),
      enable_ipv4: z.optional(boolish),
      enable_ipv6: z.optional(boolish),
      attachable: z.optional(boolish),
      labels: z.optional(listOrDict),
    }),
  ],
  { error: 'must be a mapping or empty' },
);

const volume = z.union(
  [
    z.null(),
    obj({
      name: z.optional(str),
      driver: z.optional(str),
      driver_opts: z.optional(optsMap),
      external: z.optional(external),
      labels: z.optional(listOrDict),
    }),
  ],
  { error: 'must be a mapping or empty' },
);

const secret = obj({
  name: z.optional(str),
  environment: z.optional(str),
  file: z.optional(str),
  external: z.optional(z.union([bool, str, z.looseObject({ name: z.optional(str) })])),
  labels: z.optional(listOrDict),
  driver: z.optional(str),
  driver_opts: z.optional(optsMap),
  template_driver: z.optional(str),
});

const config = obj({
  name: z.optional(str),
  content: z.optional(str),
  environment: z.optional(str),
  file: z.optional(str),
  external: z.optional(z.union([bool, str, z.looseObject({ name: z.optional(str) })])),
  labels: z.optional(listOrDict),
  template_driver: z.optional(str),
});

const model = obj({
  name: z.optional(str),
  model: str,
  context_size: z.optional(int),
  runtime_flags: z.optional(z.array(str)),
});

const include = z.union(
  [
    str,
    closed({
      path: z.optional(stringOrList),
      env_file: z.optional(stringOrList),
      project_directory: z.optional(str),
    }),
  ],
  { error: 'must be a path or a mapping with path, env_file and project_directory' },
);

function named<T extends z.ZodMiniType>(item: T) {
  return z.record(
    z.string().check(z.regex(NAME_RE, 'names may use only letters, digits, ".", "_" and "-"')),
    item,
    {
      error: 'must be a mapping',
    },
  );
}

export const composeFileSchema = obj({
  version: z.optional(str),
  name: z.optional(str),
  include: z.optional(z.array(include, { error: 'must be a list' })),
  services: z.optional(named(service)),
  models: z.optional(named(model)),
  networks: z.optional(named(network)),
  volumes: z.optional(named(volume)),
  secrets: z.optional(named(secret)),
  configs: z.optional(named(config)),
});

export interface SchemaIssue {
  path: PathSegment[];
  message: string;
}

/** Validates one interpolated compose file; returns every problem found. */
export function validateComposeFile(data: unknown): SchemaIssue[] {
  // jitless: a command validates a file or two, once; zod's eval-built fast path costs
  // more to generate (~8 ms at the CLI's start) than it saves.
  const r = composeFileSchema.safeParse(data, { jitless: true });
  if (r.success) return [];
  const out: SchemaIssue[] = [];
  for (const issue of r.error.issues) collect(issue, out);
  return out;
}

function collect(issue: z.core.$ZodIssue, out: SchemaIssue[]): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const k of issue.keys) out.push({ path: [...path, k], message: `unknown key "${k}"` });
      return;
    case 'invalid_union': {
      // Report the branch that matched the value's shape, if any, for a precise message.
      const branch = issue.errors.find(
        (errs) => errs.length > 0 && errs.every((e) => e.path.length > 0 || e.code === 'unrecognized_keys'),
      );
      if (branch) {
        for (const e of branch) collect({ ...e, path: [...issue.path, ...e.path] } as z.core.$ZodIssue, out);
        return;
      }
      out.push({ path, message: issue.message });
      return;
    }
    case 'invalid_key':
      out.push({ path, message: issue.issues[0]?.message ?? 'is not a valid name' });
      return;
    case 'invalid_type':
      out.push({
        path,
        message: issue.message.startsWith('Invalid') ? `must be ${article(issue.expected)}` : issue.message,
      });
      return;
    case 'invalid_value':
      out.push({
        path,
        message: issue.message.startsWith('Invalid')
          ? `must be one of ${issue.values.map((v) => String(v)).join(', ')}`
          : issue.message,
      });
      return;
    default:
      out.push({ path, message: issue.message });
  }
}

function article(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a mapping';
  if (expected === 'array') return 'a list';
  if (expected === 'int') return 'a whole number';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
