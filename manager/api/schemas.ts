// Request bodies as the Docker Engine API defines them (v1.44), checked at the edge.
// Known fields are type-checked; unknown fields inside specs are kept (loose objects)
// so a newer client's extra settings round-trip through inspect instead of vanishing.
// Each schema is tied to its model type by a parser below whose return type is the
// model's, so a schema cannot drift from the model the store and the handlers use.

import { z } from 'zod';
import {
  type ConfigSpec,
  canonicalCapability,
  deviceProblem,
  lazy,
  type NetworkCreateRequest,
  type NodeSpec,
  RLIMIT_TYPES,
  type SecretSpec,
  type ServiceSpec,
  SkiffError,
  type SwarmSpec,
  seccompProfileProblem,
  sysctlProblem,
} from '../../lib/index.js';

/** Object names as Docker accepts them for services, secrets, configs and networks. */
export const OBJECT_NAME_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/;

/**
 * The request bodies' schemas, built at the first request that brings one: building them
 * is ~5 ms of a node's start, which no request waits for.
 */
const schemas = lazy(() => {
  const int64 = z
    .number()
    .int()
    .min(-(2 ** 63))
    .max(2 ** 63);
  const uint = z
    .number()
    .int()
    .min(0)
    .max(2 ** 63);
  const str = z.string().max(64 * 1024);

  /**
   * An optional enum as Go clients send it: the empty string is the zero value and
   * means "not set" (the docker CLI sends `"Order": ""` for an unset rollback order).
   */
  function optionalEnum<const T extends readonly [string, ...string[]]>(values: T) {
    return z
      .union([z.enum(values), z.literal('')])
      .nullish()
      .transform((v) => (v === '' || v === null ? undefined : v));
  }
  const labels = z.record(z.string().max(4096), z.string().max(64 * 1024));
  const stringMap = labels;
  const driver = z.looseObject({ Name: str, Options: stringMap.nullish() });

  const objectName = z
    .string()
    .min(1)
    .max(63)
    .regex(
      OBJECT_NAME_RE,
      'must start and end with a letter or digit and hold only letters, digits, "_", "." and "-"',
    );

  const base64 = z
    .string()
    .max(700 * 1024)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
    .refine((s) => s.length % 4 === 0, 'must be base64 (length a multiple of 4)');

  const mount = z.looseObject({
    Target: str.min(1),
    Source: str.nullish(),
    Type: z.enum(['bind', 'volume', 'tmpfs', 'npipe', 'cluster']),
    ReadOnly: z.boolean().nullish(),
    Consistency: str.nullish(),
    BindOptions: z.looseObject({}).nullish(),
    VolumeOptions: z.looseObject({ Labels: labels.nullish(), DriverConfig: driver.nullish() }).nullish(),
    TmpfsOptions: z.looseObject({ SizeBytes: int64.nullish(), Mode: uint.nullish() }).nullish(),
  });

  const fileRef = z.looseObject({ Name: str, UID: str, GID: str, Mode: uint });

  const capability = str.refine((c) => canonicalCapability(c) !== undefined, {
    error: (i) => `"${String(i.input)}" is not a Linux capability (e.g. NET_ADMIN, CAP_SYS_TIME or ALL)`,
  });

  /** A seccomp profile is JSON text; the containers-common profile is ~30 KiB, so 1 MiB is ample. */
  const seccompProfile = z
    .string()
    .max(1024 * 1024)
    .superRefine((text, ctx) => {
      const problem = seccompProfileProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: `the profile ${problem}` });
    });

  /**
   * An object skiff cannot honour: accepted only when it asks for nothing (absent, null, or
   * with its strings empty, as Go clients send their zero values; SELinux's `Disable` is
   * skiff's behaviour anyway).
   */
  const refusedObject = (why: string) =>
    z
      .looseObject({})
      .refine((o) => Object.values(o).every((v) => v === null || v === '' || typeof v === 'boolean'), {
        error: why,
      })
      .nullish();

  const privileges = z.looseObject({
    Seccomp: z
      .looseObject({
        Mode: optionalEnum(['default', 'unconfined', 'custom']),
        Profile: seccompProfile.nullish(),
      })
      .refine((s) => s.Mode !== 'custom' || (s.Profile ?? '') !== '', {
        error: 'a custom seccomp mode needs a Profile',
      })
      .nullish(),
    AppArmor: z.looseObject({ Mode: optionalEnum(['default', 'disabled']) }).nullish(),
    NoNewPrivileges: z.boolean().nullish(),
    SELinuxContext: refusedObject('skiff does not apply SELinux labels'),
    CredentialSpec: refusedObject('credential specs are for Windows containers, which skiff does not run'),
  });

  const device = z
    .looseObject({ PathOnHost: str.min(1), PathInContainer: str.min(1), CgroupPermissions: str.nullish() })
    .superRefine((d, ctx) => {
      const problem = deviceProblem({
        PathOnHost: d.PathOnHost,
        PathInContainer: d.PathInContainer,
        ...(d.CgroupPermissions ? { CgroupPermissions: d.CgroupPermissions } : {}),
      });
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

  const containerSpec = z.looseObject({
    Image: str.min(1, 'image reference must be provided'),
    Labels: labels.nullish(),
    Command: z.array(str).nullish(),
    Args: z.array(str).nullish(),
    Hostname: str.nullish(),
    Env: z.array(str).nullish(),
    Dir: str.nullish(),
    User: str.nullish(),
    Groups: z.array(str).nullish(),
    TTY: z.boolean().nullish(),
    OpenStdin: z.boolean().nullish(),
    ReadOnly: z.boolean().nullish(),
    Mounts: z.array(mount).nullish(),
    StopSignal: str.nullish(),
    StopGracePeriod: int64.nullish(),
    HealthCheck: z
      .looseObject({
        Test: z.array(str).nullish(),
        Interval: int64.nullish(),
        Timeout: int64.nullish(),
        Retries: int64.nullish(),
        StartPeriod: int64.nullish(),
        StartInterval: int64.nullish(),
      })
      .nullish(),
    Hosts: z.array(str).nullish(),
    DNSConfig: z
      .looseObject({
        Nameservers: z.array(str).nullish(),
        Search: z.array(str).nullish(),
        Options: z.array(str).nullish(),
      })
      .nullish(),
    Secrets: z
      .array(z.looseObject({ File: fileRef.nullish(), SecretID: str.min(1), SecretName: str }))
      .nullish(),
    Configs: z
      .array(
        z.looseObject({
          File: fileRef.nullish(),
          Runtime: z.looseObject({}).nullish(),
          ConfigID: str.min(1),
          ConfigName: str,
        }),
      )
      .nullish(),
    Isolation: str.nullish(),
    Init: z.boolean().nullish(),
    Sysctls: stringMap
      .superRefine((m, ctx) => {
        for (const k of Object.keys(m)) {
          const problem = sysctlProblem(k);
          if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
        }
      })
      .nullish(),
    CapabilityAdd: z.array(capability).nullish(),
    CapabilityDrop: z.array(capability).nullish(),
    Ulimits: z
      .array(
        z.looseObject({
          Name: str.refine((n) => RLIMIT_TYPES[n.toLowerCase()] !== undefined, {
            error: (i) =>
              `"${String(i.input)}" is not a ulimit (one of ${Object.keys(RLIMIT_TYPES).join(', ')})`,
          }),
          Soft: int64,
          Hard: int64,
        }),
      )
      .nullish(),
    Privileges: privileges.nullish(),
    Privileged: z.boolean().nullish(),
    Devices: z.array(device).nullish(),
  });

  const resourceObject = z.looseObject({
    NanoCPUs: int64.nullish(),
    MemoryBytes: int64.nullish(),
    Pids: int64.nullish(),
  });

  const networkAttachment = z.looseObject({
    Target: str.min(1),
    Aliases: z.array(str).nullish(),
    DriverOpts: stringMap.nullish(),
  });

  const taskSpec = z.looseObject({
    ContainerSpec: containerSpec.nullish(),
    Resources: z
      .looseObject({ Limits: resourceObject.nullish(), Reservations: resourceObject.nullish() })
      .nullish(),
    RestartPolicy: z
      .looseObject({
        Condition: optionalEnum(['none', 'on-failure', 'any']),
        Delay: int64.nullish(),
        MaxAttempts: uint.nullish(),
        Window: int64.nullish(),
      })
      .nullish(),
    Placement: z
      .looseObject({
        Constraints: z.array(str).nullish(),
        Preferences: z
          .array(z.looseObject({ Spread: z.looseObject({ SpreadDescriptor: str }).nullish() }))
          .nullish(),
        MaxReplicas: uint.nullish(),
        Platforms: z.array(z.looseObject({ Architecture: str.nullish(), OS: str.nullish() })).nullish(),
      })
      .nullish(),
    ForceUpdate: uint.nullish(),
    Runtime: str.nullish(),
    Networks: z.array(networkAttachment).nullish(),
    LogDriver: driver.nullish(),
  });

  const updateConfig = z.looseObject({
    Parallelism: uint.nullish(),
    Delay: int64.nullish(),
    FailureAction: optionalEnum(['continue', 'pause', 'rollback']),
    Monitor: int64.nullish(),
    MaxFailureRatio: z.number().min(0).max(1).nullish(),
    Order: optionalEnum(['stop-first', 'start-first']),
  });

  const portConfig = z.looseObject({
    Name: str.nullish(),
    Protocol: optionalEnum(['tcp', 'udp', 'sctp']),
    TargetPort: z.number().int().min(0).max(65535).nullish(),
    PublishedPort: z.number().int().min(0).max(65535).nullish(),
    PublishMode: optionalEnum(['ingress', 'host']),
  });

  const serviceSpecSchema = z.looseObject({
    Name: objectName.nullish(),
    Labels: labels.nullish(),
    TaskTemplate: taskSpec.nullish(),
    Mode: z
      .looseObject({
        Replicated: z.looseObject({ Replicas: uint.nullish() }).nullish(),
        Global: z.looseObject({}).nullish(),
        ReplicatedJob: z
          .looseObject({ MaxConcurrent: uint.nullish(), TotalCompletions: uint.nullish() })
          .nullish(),
        GlobalJob: z.looseObject({}).nullish(),
      })
      .nullish(),
    UpdateConfig: updateConfig.nullish(),
    RollbackConfig: updateConfig.nullish(),
    Networks: z.array(networkAttachment).nullish(),
    EndpointSpec: z
      .looseObject({ Mode: optionalEnum(['vip', 'dnsrr']), Ports: z.array(portConfig).nullish() })
      .nullish(),
  });

  const ipamConfig = z.looseObject({
    Subnet: str.nullish(),
    IPRange: str.nullish(),
    Gateway: str.nullish(),
    AuxiliaryAddresses: stringMap.nullish(),
  });

  const networkCreateSchema = z.looseObject({
    Name: objectName,
    CheckDuplicate: z.boolean().nullish(),
    Driver: str.nullish(),
    Scope: str.nullish(),
    Internal: z.boolean().nullish(),
    Attachable: z.boolean().nullish(),
    Ingress: z.boolean().nullish(),
    ConfigOnly: z.boolean().nullish(),
    IPAM: z
      .looseObject({
        Driver: str.nullish(),
        Config: z.array(ipamConfig).nullish(),
        Options: stringMap.nullish(),
      })
      .nullish(),
    EnableIPv6: z.boolean().nullish(),
    Options: stringMap.nullish(),
    Labels: labels.nullish(),
  });

  const secretName = z
    .string()
    .min(1)
    .max(64)
    .regex(
      /^[a-zA-Z0-9]+(?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/,
      'must be letters, digits, "_", "." and "-", starting and ending with a letter or digit',
    );

  const secretSpecSchema = z.looseObject({
    Name: secretName,
    Labels: labels.nullish(),
    Data: base64.nullish(),
    Driver: driver.nullish(),
    Templating: driver.nullish(),
  });

  const configSpecSchema = z.looseObject({
    Name: secretName,
    Labels: labels.nullish(),
    Data: base64.nullish(),
    Templating: driver.nullish(),
  });

  const nodeSpecSchema = z.looseObject({
    Name: str.nullish(),
    Labels: labels.nullish(),
    Role: z.enum(['worker', 'manager']),
    Availability: z.enum(['active', 'pause', 'drain']),
  });

  const swarmSpecSchema = z.looseObject({
    Name: str.nullish(),
    Labels: labels.nullish(),
    Orchestration: z.looseObject({ TaskHistoryRetentionLimit: int64.nullish() }).nullish(),
    Raft: z
      .looseObject({
        SnapshotInterval: uint.nullish(),
        KeepOldSnapshots: uint.nullish(),
        LogEntriesForSlowFollowers: uint.nullish(),
        ElectionTick: uint.nullish(),
        HeartbeatTick: uint.nullish(),
      })
      .nullish(),
    Dispatcher: z.looseObject({ HeartbeatPeriod: int64.nullish() }).nullish(),
    CAConfig: z.looseObject({ NodeCertExpiry: int64.nullish() }).nullish(),
    EncryptionConfig: z.looseObject({ AutoLockManagers: z.boolean().nullish() }).nullish(),
    TaskDefaults: z.looseObject({ LogDriver: driver.nullish() }).nullish(),
  });
  return {
    serviceSpecSchema,
    networkCreateSchema,
    secretSpecSchema,
    configSpecSchema,
    nodeSpecSchema,
    swarmSpecSchema,
  };
});

/**
 * Parses a request body with a schema. Bad input becomes an 'invalid_argument'
 * SkiffError (HTTP 400) naming the first offending field.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  if (body === undefined || body === null)
    throw new SkiffError('invalid_argument', `${what}: request body is missing`);
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new SkiffError(
    'invalid_argument',
    `invalid ${what}: ${path}${issue?.message ?? 'does not match the schema'}`,
  );
}

/** What a schema makes of a body once `dropNulls` removed the nulls Go clients send. */
export type ParsedBody<S extends z.ZodType> = NoNulls<z.output<S>>;

function parseModelBody<S extends z.ZodType>(schema: S, body: unknown, what: string): ParsedBody<S> {
  return dropNulls(parseBody(schema, body, what));
}

// The request bodies as model types. The declared return type is the compile-time check
// that the schema's parsed body (nulls dropped) is assignable to the model type: a schema
// that accepts what the model cannot hold does not compile.
export const parseServiceSpec = (body: unknown): ServiceSpec =>
  parseModelBody(schemas().serviceSpecSchema, body, 'ServiceSpec');
export const parseNetworkCreate = (body: unknown): NetworkCreateRequest =>
  parseModelBody(schemas().networkCreateSchema, body, 'NetworkCreateRequest');
export const parseSecretSpec = (body: unknown): SecretSpec =>
  parseModelBody(schemas().secretSpecSchema, body, 'SecretSpec');
export const parseConfigSpec = (body: unknown): ConfigSpec =>
  parseModelBody(schemas().configSpecSchema, body, 'ConfigSpec');
export const parseNodeSpec = (body: unknown): NodeSpec =>
  parseModelBody(schemas().nodeSpecSchema, body, 'NodeSpec');
export const parseSwarmSpec = (body: unknown): SwarmSpec =>
  parseModelBody(schemas().swarmSpecSchema, body, 'SwarmSpec');

/** `T` with every `null` removed from its fields, as `dropNulls` leaves it. */
export type NoNulls<T> = T extends null
  ? never
  : T extends (infer U)[]
    ? NoNulls<U>[]
    : T extends object
      ? { [K in keyof T]: NoNulls<Exclude<T[K], null>> }
      : T;

/** Removes `null` values recursively: Go clients send null for empty slices and maps. */
export function dropNulls<T>(v: T): NoNulls<T> {
  if (Array.isArray(v)) return v.map(dropNulls) as NoNulls<T>;
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x !== null)
        Object.defineProperty(out, k, {
          value: dropNulls(x),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return out as NoNulls<T>;
  }
  return v as NoNulls<T>;
}
