// The compose file schema, written for skiff with zod after the Compose Specification
// (validated after interpolation, as the spec says; most typed fields also accept a
// string because interpolation produces strings — normalization converts them).
// A test checks that it agrees with the upstream JSON Schema on the corpus.

import { z } from 'zod';
import { DEPENDENCY_CONDITIONS } from '../lib/index.js';
import type { PathSegment } from './positions.js';

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
  return z.preprocess(stripExtensions, z.strictObject(shape, { error: 'must be a mapping' }));
}
/** A mapping with exactly these keys, no extensions. */
function closed<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.strictObject(shape, { error: 'must be a mapping' });
}

function unique<T extends z.ZodType>(item: T, what: string) {
  return z
    .array(item, { error: `must be a list of ${what}` })
    .refine((a) => new Set(a.map(keyOf)).size === a.length, {
      message: 'must not repeat an item',
    });
}
function keyOf(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : `${typeof v}:${String(v)}`;
}

const str = z.string({ error: 'must be a string' });
// Any integral number, as JSON Schema's integer (z.int() would also demand a safe integer).
const int = z.number({ error: 'must be a number' }).refine(Number.isInteger, 'must be a whole number');
const num = z.number({ error: 'must be a number' });
const bool = z.boolean({ error: 'must be true or false' });
const strOr = <T extends z.ZodType>(t: T, what: string) => z.union([t, str], { error: `must be ${what}` });
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
  user: str.optional(),
  privileged: boolish.optional(),
  working_dir: str.optional(),
  environment: listOrDict.optional(),
});

const blkioLimit = closed({ path: str.optional(), rate: intish.optional() });
const blkioWeight = closed({ path: str.optional(), weight: intish.optional() });

const fileRef = z.array(
  z.union(
    [
      str,
      obj({
        source: str.optional(),
        target: str.optional(),
        uid: str.optional(),
        gid: str.optional(),
        mode: numish.optional(),
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
const ulimits = z.record(z.string(), z.unknown(), { error: 'must be a mapping' }).superRefine((o, ctx) => {
  for (const [k, v] of Object.entries(o)) {
    if (!/^[a-z]+$/.test(k)) continue;
    const r = ulimitValue.safeParse(v);
    if (r.success) continue;
    for (const issue of r.error.issues)
      ctx.addIssue({ ...issue, path: [k, ...issue.path] } as z.core.$ZodRawIssue);
  }
});

const deviceRequest = obj({
  capabilities: listOfStrings,
  count: strOr(int, 'a number or "all"').optional(),
  device_ids: listOfStrings.optional(),
  driver: str.optional(),
  options: listOrDict.optional(),
});

const updateConfig = obj({
  parallelism: intish.optional(),
  delay: str.optional(),
  failure_action: str.optional(),
  monitor: str.optional(),
  max_failure_ratio: numish.optional(),
  order: z.enum(['start-first', 'stop-first'], { error: 'must be start-first or stop-first' }).optional(),
});

const deploy = z.union(
  [
    z.null(),
    obj({
      mode: str.optional(),
      endpoint_mode: str.optional(),
      replicas: intish.optional(),
      labels: listOrDict.optional(),
      rollback_config: updateConfig.optional(),
      update_config: updateConfig.optional(),
      resources: obj({
        limits: obj({ cpus: numish.optional(), memory: str.optional(), pids: intish.optional() }).optional(),
        reservations: obj({
          cpus: numish.optional(),
          memory: str.optional(),
          generic_resources: z
            .array(
              obj({
                discrete_resource_spec: obj({ kind: str.optional(), value: numish.optional() }).optional(),
              }),
            )
            .optional(),
          devices: z.array(deviceRequest).optional(),
        }).optional(),
      }).optional(),
      restart_policy: obj({
        condition: str.optional(),
        delay: str.optional(),
        max_attempts: intish.optional(),
        window: str.optional(),
      }).optional(),
      placement: obj({
        constraints: z.array(str).optional(),
        preferences: z.array(obj({ spread: str.optional() })).optional(),
        max_replicas_per_node: intish.optional(),
      }).optional(),
    }),
  ],
  { error: 'must be a mapping' },
);

const healthcheck = obj({
  disable: boolish.optional(),
  interval: str.optional(),
  retries: numish.optional(),
  test: z.union([str, z.array(str)], { error: 'must be a string or a list of strings' }).optional(),
  timeout: str.optional(),
  start_period: str.optional(),
  start_interval: str.optional(),
});

const build = z.union(
  [
    str,
    obj({
      context: str.optional(),
      dockerfile: str.optional(),
      dockerfile_inline: str.optional(),
      entitlements: z.array(str).optional(),
      args: listOrDict.optional(),
      ssh: listOrDict.optional(),
      labels: listOrDict.optional(),
      cache_from: z.array(str).optional(),
      cache_to: z.array(str).optional(),
      no_cache: boolish.optional(),
      additional_contexts: listOrDict.optional(),
      network: str.optional(),
      provenance: boolish.optional(),
      sbom: boolish.optional(),
      pull: boolish.optional(),
      target: str.optional(),
      shm_size: intish.optional(),
      extra_hosts: extraHosts.optional(),
      isolation: str.optional(),
      privileged: boolish.optional(),
      secrets: fileRef.optional(),
      tags: z.array(str).optional(),
      ulimits: ulimits.optional(),
      platforms: z.array(str).optional(),
    }),
  ],
  { error: 'must be a path or a mapping' },
);

const portObject = obj({
  name: str.optional(),
  mode: str.optional(),
  host_ip: str.optional(),
  target: intish.optional(),
  published: strOr(int, 'a port number or range').optional(),
  protocol: str.optional(),
  app_protocol: str.optional(),
});

const volumeObject = obj({
  type: z.enum(['bind', 'volume', 'tmpfs', 'cluster', 'npipe', 'image'], {
    error: 'must be one of bind, volume, tmpfs, cluster, npipe, image',
  }),
  source: str.optional(),
  target: str.optional(),
  read_only: boolish.optional(),
  consistency: str.optional(),
  bind: obj({
    propagation: str.optional(),
    create_host_path: boolish.optional(),
    recursive: z.enum(['enabled', 'disabled', 'writable', 'readonly']).optional(),
    selinux: z.enum(['z', 'Z']).optional(),
  }).optional(),
  volume: obj({
    labels: listOrDict.optional(),
    nocopy: boolish.optional(),
    subpath: str.optional(),
  }).optional(),
  tmpfs: obj({
    size: z.union([int.min(0), str], { error: 'must be a size' }).optional(),
    mode: numish.optional(),
  }).optional(),
  image: obj({ subpath: str.optional() }).optional(),
});

const serviceNetworkObject = obj({
  aliases: listOfStrings.optional(),
  interface_name: str.optional(),
  ipv4_address: str.optional(),
  ipv6_address: str.optional(),
  link_local_ips: listOfStrings.optional(),
  mac_address: str.optional(),
  driver_opts: optsMap.optional(),
  priority: num.optional(),
  gw_priority: num.optional(),
});

const dependsOnObject = obj({
  restart: boolish.optional(),
  required: bool.optional(),
  condition: z.enum(DEPENDENCY_CONDITIONS, {
    error: 'must be service_started, service_healthy or service_completed_successfully',
  }),
});

const envFile = z.union(
  [
    str,
    z.array(
      z.union([str, closed({ path: str, format: str.optional(), required: boolish.optional() })], {
        error: 'must be a path or a mapping with path, required and format',
      }),
    ),
  ],
  { error: 'must be a path or a list of paths' },
);

const serviceShape = {
  develop: z
    .union([
      z.null(),
      obj({
        watch: z
          .array(
            obj({
              ignore: stringOrList.optional(),
              include: stringOrList.optional(),
              path: str,
              action: z.enum(['rebuild', 'sync', 'restart', 'sync+restart', 'sync+exec']),
              target: str.optional(),
              exec: serviceHook.optional(),
              initial_sync: bool.optional(),
            }),
          )
          .optional(),
      }),
    ])
    .optional(),
  deploy: deploy.optional(),
  annotations: listOrDict.optional(),
  attach: boolish.optional(),
  build: build.optional(),
  blkio_config: closed({
    device_read_bps: z.array(blkioLimit).optional(),
    device_read_iops: z.array(blkioLimit).optional(),
    device_write_bps: z.array(blkioLimit).optional(),
    device_write_iops: z.array(blkioLimit).optional(),
    weight: intish.optional(),
    weight_device: z.array(blkioWeight).optional(),
  }).optional(),
  cap_add: listOfStrings.optional(),
  cap_drop: listOfStrings.optional(),
  cgroup: z.enum(['host', 'private'], { error: 'must be host or private' }).optional(),
  cgroup_parent: str.optional(),
  command: command.optional(),
  configs: fileRef.optional(),
  container_name: str.regex(/[a-zA-Z0-9][a-zA-Z0-9_.-]+/, 'is not a valid container name').optional(),
  cpu_count: z.union([str, int.min(0)], { error: 'must be a number' }).optional(),
  cpu_percent: z.union([str, int.min(0).max(100)], { error: 'must be a number from 0 to 100' }).optional(),
  cpu_shares: numish.optional(),
  cpu_quota: numish.optional(),
  cpu_period: numish.optional(),
  cpu_rt_period: numish.optional(),
  cpu_rt_runtime: numish.optional(),
  cpus: numish.optional(),
  cpuset: str.optional(),
  credential_spec: obj({ config: str.optional(), file: str.optional(), registry: str.optional() }).optional(),
  depends_on: z
    .union([listOfStrings, z.record(z.string().regex(NAME_RE), dependsOnObject)], {
      error: 'must be a list of services or a mapping of service to {condition, required, restart}',
    })
    .optional(),
  device_cgroup_rules: listOfStrings.optional(),
  devices: z
    .array(
      z.union([str, obj({ source: str, target: str.optional(), permissions: str.optional() })], {
        error: 'must be "host:container[:perms]" or a mapping with source',
      }),
    )
    .optional(),
  dns: stringOrList.optional(),
  dns_opt: listOfStrings.optional(),
  dns_search: stringOrList.optional(),
  domainname: str.optional(),
  entrypoint: command.optional(),
  env_file: envFile.optional(),
  label_file: stringOrList.optional(),
  environment: listOrDict.optional(),
  expose: unique(z.union([str, num], { error: 'must be a port' }), 'ports').optional(),
  extends: z
    .union([str, closed({ service: str, file: str.optional() })], {
      error: 'must be a service name or a mapping with service and file',
    })
    .optional(),
  provider: obj({
    type: str,
    options: z.record(z.string(), z.union([str, num, bool, z.array(z.union([str, num, bool]))])).optional(),
  }).optional(),
  external_links: listOfStrings.optional(),
  extra_hosts: extraHosts.optional(),
  gpus: z
    .union([
      z.literal('all'),
      z.array(
        z.looseObject({
          capabilities: listOfStrings.optional(),
          count: strOr(int, 'a number or "all"').optional(),
          device_ids: listOfStrings.optional(),
          driver: str.optional(),
          options: listOrDict.optional(),
        }),
      ),
    ])
    .optional(),
  group_add: unique(z.union([str, num]), 'groups').optional(),
  healthcheck: healthcheck.optional(),
  hostname: str.optional(),
  image: str.optional(),
  init: boolish.optional(),
  ipc: str.optional(),
  isolation: str.optional(),
  labels: listOrDict.optional(),
  links: listOfStrings.optional(),
  logging: obj({
    driver: str.optional(),
    options: z.record(z.string(), z.union([str, num, z.null()])).optional(),
  }).optional(),
  mac_address: str.optional(),
  mem_limit: numish.optional(),
  mem_reservation: intish.optional(),
  mem_swappiness: intish.optional(),
  memswap_limit: numish.optional(),
  network_mode: str.optional(),
  models: z
    .union([
      listOfStrings,
      z.record(z.string().regex(NAME_RE), obj({ endpoint_var: str.optional(), model_var: str.optional() })),
    ])
    .optional(),
  networks: z
    .union(
      [
        listOfStrings,
        z.record(
          z.string().regex(NAME_RE),
          z.union([serviceNetworkObject, z.null()], { error: 'must be a mapping or null' }),
        ),
      ],
      { error: 'must be a list of networks or a mapping of network to options' },
    )
    .optional(),
  oom_kill_disable: boolish.optional(),
  oom_score_adj: z
    .union([str, int.min(-1000).max(1000)], { error: 'must be a number from -1000 to 1000' })
    .optional(),
  pid: z.union([str, z.null()]).optional(),
  pids_limit: numish.optional(),
  platform: str.optional(),
  ports: unique(
    z.union([num, str, portObject], {
      error: 'must be a port ("8080:80"), a number or a mapping with target/published/protocol/mode',
    }),
    'ports',
  ).optional(),
  post_start: z.array(serviceHook).optional(),
  pre_stop: z.array(serviceHook).optional(),
  privileged: boolish.optional(),
  profiles: listOfStrings.optional(),
  pull_policy: str
    .regex(/always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+/, {
      message: 'must be always, never, missing, build, daily, weekly or every_<duration>',
    })
    .optional(),
  pull_refresh_after: str.optional(),
  read_only: boolish.optional(),
  restart: str.optional(),
  runtime: str.optional(),
  scale: intish.optional(),
  security_opt: listOfStrings.optional(),
  shm_size: numish.optional(),
  secrets: fileRef.optional(),
  sysctls: listOrDict.optional(),
  stdin_open: boolish.optional(),
  stop_grace_period: str.optional(),
  stop_signal: str.optional(),
  storage_opt: z.record(z.string(), z.unknown(), { error: 'must be a mapping' }).optional(),
  tmpfs: stringOrList.optional(),
  tty: boolish.optional(),
  ulimits: ulimits.optional(),
  use_api_socket: bool.optional(),
  user: str.optional(),
  uts: str.optional(),
  userns_mode: str.optional(),
  volumes: unique(
    z.union([str, volumeObject], {
      error: 'must be "source:target[:mode]" or a mapping with type and target',
    }),
    'volumes',
  ).optional(),
  volumes_from: listOfStrings.optional(),
  working_dir: str.optional(),
};

const service = obj(serviceShape);

const external = z.union([bool, str, obj({ name: str.optional() })], {
  error: 'must be true, false or a mapping with name',
});

const network = z.union(
  [
    z.null(),
    obj({
      name: str.optional(),
      driver: str.optional(),
      driver_opts: optsMap.optional(),
      ipam: obj({
        driver: str.optional(),
        config: z
          .array(
            obj({
              subnet: str.optional(),
              ip_range: str.optional(),
              gateway: str.optional(),
              aux_addresses: z.record(z.string(), str).optional(),
            }),
          )
          .optional(),
        options: z.record(z.string(), str).optional(),
      }).optional(),
      external: external.optional(),
      internal: boolish.optional(),
      enable_ipv4: boolish.optional(),
      enable_ipv6: boolish.optional(),
      attachable: boolish.optional(),
      labels: listOrDict.optional(),
    }),
  ],
  { error: 'must be a mapping or empty' },
);

const volume = z.union(
  [
    z.null(),
    obj({
      name: str.optional(),
      driver: str.optional(),
      driver_opts: optsMap.optional(),
      external: external.optional(),
      labels: listOrDict.optional(),
    }),
  ],
  { error: 'must be a mapping or empty' },
);

const secret = obj({
  name: str.optional(),
  environment: str.optional(),
  file: str.optional(),
  external: z.union([bool, str, z.looseObject({ name: str.optional() })]).optional(),
  labels: listOrDict.optional(),
  driver: str.optional(),
  driver_opts: optsMap.optional(),
  template_driver: str.optional(),
});

const config = obj({
  name: str.optional(),
  content: str.optional(),
  environment: str.optional(),
  file: str.optional(),
  external: z.union([bool, str, z.looseObject({ name: str.optional() })]).optional(),
  labels: listOrDict.optional(),
  template_driver: str.optional(),
});

const model = obj({
  name: str.optional(),
  model: str,
  context_size: int.optional(),
  runtime_flags: z.array(str).optional(),
});

const include = z.union(
  [
    str,
    closed({
      path: stringOrList.optional(),
      env_file: stringOrList.optional(),
      project_directory: str.optional(),
    }),
  ],
  { error: 'must be a path or a mapping with path, env_file and project_directory' },
);

function named<T extends z.ZodType>(item: T) {
  return z.record(z.string().regex(NAME_RE, 'names may use only letters, digits, ".", "_" and "-"'), item, {
    error: 'must be a mapping',
  });
}

export const composeFileSchema = obj({
  version: str.optional(),
  name: str.optional(),
  include: z.array(include, { error: 'must be a list' }).optional(),
  services: named(service).optional(),
  models: named(model).optional(),
  networks: named(network).optional(),
  volumes: named(volume).optional(),
  secrets: named(secret).optional(),
  configs: named(config).optional(),
});

export interface SchemaIssue {
  path: PathSegment[];
  message: string;
}

/** Validates one interpolated compose file; returns every problem found. */
export function validateComposeFile(data: unknown): SchemaIssue[] {
  const r = composeFileSchema.safeParse(data);
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
