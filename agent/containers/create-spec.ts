// A `POST /containers/create` body to what the runtime runs: the swarm ContainerSpec the
// worker also hands it, the published ports and the network mode. Pure. Everything the
// body asks that skiff does not honour yet is refused by name (docs/engine-api.md):
// clients send many fields at their zero value, which mean "not asked".
import type {
  ContainerSpec,
  EngineContainerCreateBody,
  EngineHostConfig,
  Mount,
  PublishedPort,
} from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import { isUnset, type Refuse, refuser } from './refusal.js';

// Annotated: a call narrows only through a declared `never` type.
const refuse: Refuse = refuser('docs/engine-api.md lists what a skiff node runs');

/** `bridge` (the node's default network), `none`, or the name or ID of a user network. */
export type NetworkMode = string;

/** A network the container joins at create, in order (the first is its NetworkMode). */
export interface EndpointRequest {
  /** `bridge` or a user network's name or ID, as the body gives it. */
  network: string;
  /** Extra names on a user network (Docker's network-scoped aliases). */
  aliases: string[];
}

export interface StandaloneSpec {
  image: string;
  spec: ContainerSpec;
  ports: PublishedPort[];
  networkMode: NetworkMode;
  /** The networks to join; none with NetworkMode `none`. */
  endpoints: EndpointRequest[];
  autoRemove: boolean;
  /** Its stdin closes when the first attached client's input ends. */
  stdinOnce: boolean;
  /**
   * With a TTY: the terminal's size from its start (the docker CLI sends the user's). The
   * client's resize after start may come too late under load, or fail: the shell would
   * then start on a terminal without a size.
   */
  consoleSize?: { height: number; width: number };
  /** The body's Cmd and Entrypoint as given (inspect shows them). */
  cmd: string[] | null;
  entrypoint: string[] | null;
}

const CONFIG_KEYS = new Set([
  'Image',
  'Cmd',
  'Entrypoint',
  'Env',
  'WorkingDir',
  'User',
  'Labels',
  'Hostname',
  'StopSignal',
  'StopTimeout',
  'ExposedPorts',
  'Volumes',
  'HostConfig',
  'NetworkingConfig',
  // Which streams a client attaches to: its own business.
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  // A terminal, and stdin held open for attached clients (docker run -it).
  'Tty',
  'OpenStdin',
  'StdinOnce',
  // Windows only.
  'ArgsEscaped',
]);
const HOST_CONFIG_KEYS = new Set([
  'Binds',
  'PortBindings',
  'AutoRemove',
  'RestartPolicy',
  'NetworkMode',
  'Init',
  // The terminal's size from its start (see consoleSizeOf).
  'ConsoleSize',
  'PublishAllPorts',
]);

/** A published port whose host port the node picks. */
export const ANY_HOST_PORT = 0;

function stringList(v: unknown, field: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) refuse(field, 'must be a list of strings');
  return v as string[];
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') refuse(field, 'must be a string');
  return v;
}

export function standaloneSpec(raw: unknown): StandaloneSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SkiffError('invalid_argument', 'the container config must be a JSON object');
  const body = raw as EngineContainerCreateBody;
  for (const [k, v] of Object.entries(body)) {
    if (CONFIG_KEYS.has(k) || isUnset(v)) continue;
    refuse(k);
  }
  const image = str(body.Image, 'Image');
  if (!image) throw new SkiffError('invalid_argument', 'config error: no image given (Image)');
  const host: EngineHostConfig = body.HostConfig ?? {};
  if (typeof host !== 'object' || Array.isArray(host)) refuse('HostConfig', 'must be an object');
  for (const [k, v] of Object.entries(host)) {
    if (HOST_CONFIG_KEYS.has(k) || isUnset(v)) continue;
    // Docker's own default log driver is what skiff keeps (conmon's k8s-file).
    if (k === 'LogConfig' && isDefaultLogConfig(v)) continue;
    // -1: the kernel's default, what the docker CLI sends when not asked.
    if (k === 'MemorySwappiness' && v === -1) continue;
    refuse(`HostConfig.${k}`);
  }
  const restart = host.RestartPolicy?.Name ?? '';
  if (restart !== '' && restart !== 'no')
    refuse(`HostConfig.RestartPolicy '${restart}'`, 'is not supported by skiff yet (only "no")');
  const networkMode = networkModeOf(host.NetworkMode);
  const endpoints = endpointsOf(networkMode, body.NetworkingConfig?.EndpointsConfig);
  const cmd = stringList(body.Cmd, 'Cmd');
  const entrypoint = stringList(body.Entrypoint, 'Entrypoint');
  const env = stringList(body.Env, 'Env');
  const labels = body.Labels ?? {};
  if (typeof labels !== 'object' || Object.values(labels).some((v) => typeof v !== 'string'))
    refuse('Labels', 'must map names to strings');
  const stopTimeout = body.StopTimeout;
  if (
    stopTimeout !== undefined &&
    stopTimeout !== null &&
    (!Number.isInteger(stopTimeout) || stopTimeout < 0)
  )
    refuse('StopTimeout', 'must be a whole number of seconds');
  const ports = portsOf(host.PortBindings ?? {});
  // `-P`: every exposed port not bound already gets a host port the node picks.
  if (host.PublishAllPorts === true) {
    const exposed = body.ExposedPorts ?? {};
    if (typeof exposed !== 'object' || Array.isArray(exposed)) refuse('ExposedPorts', 'must map ports to {}');
    for (const p of portsOf(Object.fromEntries(Object.keys(exposed).map((k) => [k, [{}]]))))
      if (!ports.some((x) => x.containerPort === p.containerPort && x.protocol === p.protocol)) ports.push(p);
  }
  if (ports.length > 0 && networkMode === 'none')
    refuse('HostConfig.PortBindings', 'need a network (not "none")');
  const workdir = str(body.WorkingDir, 'WorkingDir');
  const user = str(body.User, 'User');
  const hostname = str(body.Hostname, 'Hostname');
  const stopSignal = str(body.StopSignal, 'StopSignal');
  const mounts = (stringList(host.Binds, 'HostConfig.Binds') ?? []).map(bindMount);
  // Volumes holds mount points (docker-compose lists its binds' targets there too) and,
  // from the docker CLI 28, whole `-v SRC:DST` specs, which dockerd mounts as Binds.
  // A bare path no Bind covers is an anonymous volume.
  const volumes = body.Volumes ?? {};
  if (typeof volumes !== 'object' || Array.isArray(volumes)) refuse('Volumes', 'must map paths to {}');
  for (const spec of Object.keys(volumes as object))
    if (spec.includes(':')) {
      const m = bindMount(spec);
      if (!mounts.some((x) => x.Target === m.Target)) mounts.push(m);
    }
  for (const path of Object.keys(volumes as object))
    if (!path.includes(':') && !mounts.some((m) => m.Target === path))
      refuse(`Volumes '${path.slice(0, 80)}'`, '(an anonymous volume) is not supported by skiff yet');
  const spec: ContainerSpec = {
    Image: image,
    Labels: { ...labels },
    ...(entrypoint ? { Command: entrypoint } : {}),
    ...(cmd ? { Args: cmd } : {}),
    ...(env ? { Env: env } : {}),
    ...(workdir ? { Dir: workdir } : {}),
    ...(user ? { User: user } : {}),
    ...(hostname ? { Hostname: hostname } : {}),
    ...(stopSignal ? { StopSignal: stopSignal } : {}),
    ...(typeof stopTimeout === 'number' ? { StopGracePeriod: stopTimeout * 1e9 } : {}),
    ...(mounts.length > 0 ? { Mounts: mounts } : {}),
    ...(host.Init === true ? { Init: true } : {}),
    ...(flag(body.Tty, 'Tty') ? { TTY: true } : {}),
    ...(flag(body.OpenStdin, 'OpenStdin') ? { OpenStdin: true } : {}),
  };
  const stdinOnce = flag(body.StdinOnce, 'StdinOnce') && spec.OpenStdin === true;
  const consoleSize = consoleSizeOf(host.ConsoleSize);
  return {
    image,
    spec,
    ports,
    networkMode,
    endpoints,
    autoRemove: host.AutoRemove === true,
    stdinOnce,
    ...(spec.TTY && consoleSize ? { consoleSize } : {}),
    cmd,
    entrypoint,
  };
}

/** `[height, width]`; `[0, 0]` (what the CLI sends off a terminal) means none. */
function consoleSizeOf(v: unknown): { height: number; width: number } | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    !Array.isArray(v) ||
    v.length !== 2 ||
    v.some((n) => !Number.isInteger(n) || (n as number) < 0 || (n as number) > 65_535)
  )
    refuse('HostConfig.ConsoleSize', 'must be [height, width], whole numbers from 0 to 65535');
  const [height, width] = v as [number, number];
  return height > 0 && width > 0 ? { height, width } : undefined;
}

function flag(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') refuse(field, 'must be true or false');
  return v;
}

function isDefaultLogConfig(v: unknown): boolean {
  const c = v as { Type?: unknown; Config?: unknown };
  return (c.Type === 'json-file' || c.Type === '' || c.Type === undefined) && isUnset(c.Config);
}

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function networkModeOf(v: unknown): NetworkMode {
  if (v === undefined || v === null || v === '' || v === 'default' || v === 'bridge') return 'bridge';
  if (v === 'none') return 'none';
  if (typeof v === 'string' && v !== 'host' && v.length <= 128 && NETWORK_NAME_RE.test(v)) return v;
  return refuse(
    `HostConfig.NetworkMode '${String(v).slice(0, 60)}'`,
    'is not supported by skiff yet (bridge, none, or a user network)',
  );
}

/** What an endpoint may ask: its aliases; the network's ID is the client's note to itself. */
const ENDPOINT_KEYS = new Set(['Aliases', 'NetworkID']);

/** The networks in order: NetworkMode's first, then the other endpoints the body names. */
function endpointsOf(mode: NetworkMode, raw: unknown): EndpointRequest[] {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw)))
    refuse('NetworkingConfig.EndpointsConfig', 'must map network names to endpoint settings');
  const given = Object.entries((raw ?? {}) as Record<string, unknown>);
  const own = (name: string) => name === mode || (mode === 'bridge' && name === 'default');
  const out: EndpointRequest[] = mode === 'none' ? [] : [{ network: mode, aliases: [] }];
  for (const [name, ep] of given) {
    const field = `NetworkingConfig.EndpointsConfig.${name.slice(0, 60)}`;
    if (ep !== null && ep !== undefined && (typeof ep !== 'object' || Array.isArray(ep)))
      refuse(field, 'must be an object');
    for (const [k, v] of Object.entries((ep ?? {}) as Record<string, unknown>))
      if (!ENDPOINT_KEYS.has(k) && !isUnset(v)) refuse(`${field}.${k}`);
    const aliases = stringList((ep as { Aliases?: unknown } | null)?.Aliases, `${field}.Aliases`) ?? [];
    if (mode === 'none') refuse(field, 'cannot be joined by a container with NetworkMode none');
    if (name === 'host' || name.length > 128 || !NETWORK_NAME_RE.test(name))
      refuse(field, 'is not a network name');
    const builtin = name === 'bridge' || (own(name) && mode === 'bridge');
    if (builtin && aliases.length > 0)
      refuse(`${field}.Aliases`, 'are only supported for user-defined networks (network-scoped aliases)');
    const target = own(name) ? out[0] : out.find((e) => e.network === name);
    if (target) target.aliases.push(...aliases);
    else out.push({ network: name, aliases: [...aliases] });
  }
  return out;
}

/** `-v SRC:DST[:ro|rw]`: SRC absolute is a bind mount, otherwise a named volume. */
function bindMount(b: string): Mount {
  const parts = b.split(':');
  const [source, target, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !target?.startsWith('/'))
    refuse(`HostConfig.Binds '${b.slice(0, 80)}'`, 'must be SOURCE:/TARGET[:ro|rw]');
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw')
    refuse(
      `HostConfig.Binds '${b.slice(0, 80)}': mode '${mode}'`,
      'is not supported by skiff yet (ro or rw)',
    );
  return {
    Type: source.startsWith('/') ? 'bind' : 'volume',
    Source: source,
    Target: target,
    ReadOnly: mode === 'ro',
  };
}

function portsOf(bindings: NonNullable<EngineHostConfig['PortBindings']>): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key);
    const containerPort = Number(m?.[1]);
    if (!m || containerPort < 1 || containerPort > 65535)
      refuse(`HostConfig.PortBindings '${key.slice(0, 40)}'`, 'is not a port (PORT/tcp or PORT/udp)');
    for (const b of list ?? []) {
      // No host port, or 0: one the node picks (`-p 80`, testcontainers), 0 until then.
      const hostPort = b.HostPort === undefined || b.HostPort === '' ? 0 : Number(b.HostPort);
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535)
        refuse(
          `HostConfig.PortBindings '${key}': host port '${String(b.HostPort ?? '').slice(0, 20)}'`,
          'must be a port number (a range is not supported by skiff yet)',
        );
      const hostIp = b.HostIp && b.HostIp !== '0.0.0.0' ? b.HostIp : undefined;
      out.push({
        containerPort,
        hostPort,
        protocol: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp',
        ...(hostIp ? { hostIp } : {}),
      });
    }
  }
  return out;
}
