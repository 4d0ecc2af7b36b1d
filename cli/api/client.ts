// The CLI's client of a manager's HTTP API (the Docker Engine API's swarm subset),
// over the local unix socket or TCP (mTLS).
import { PassThrough, Readable } from 'node:stream';
import type {
  BuildCredentials,
  ConfigSpec,
  DistributeMessage,
  DistributeRequest,
  DockerVolume,
  EngineContainerTop,
  EnginePathStat,
  ImageInspect,
  ImageSummary,
  Network,
  NetworkCreateRequest,
  Node,
  NodeSpec,
  PruneImagesResult,
  PullMessage,
  SecretSpec,
  Service,
  ServiceSpec,
  Swarm,
  SystemDiskUsage,
  SystemPruneResult,
  Task,
} from '../../lib/index.js';
import {
  BUILD_CREDENTIALS_PARAM,
  decodeFrames,
  EXEC_HEADER,
  type ExecBody,
  type ExecStatus,
  encodeFrame,
  IMAGE_SIZE_HEADER,
  RESIZE,
  SkiffError,
  STATUS,
  STDERR,
  STDIN,
  STDIN_CONTENT_TYPE,
} from '../../lib/index.js';
import { HttpTransport, type TransportRequest, type TransportResponse } from './transport.js';

/** The final frame of an exec stream, checked as it arrives (by hand: zod would cost every command its load). */
function execStatusOf(v: unknown): ExecStatus | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.ExitCode === 'number' && Number.isInteger(o.ExitCode)) return { ExitCode: o.ExitCode };
  if (typeof o.message === 'string') return { message: o.message };
  return undefined;
}

export const DEFAULT_SOCKET = '/run/skiff/skiff.sock';

export interface ApiClientOptions {
  /** `unix:///path`, `tcp://host:port`, `http://…`, or a bare socket path. */
  host?: string;
  timeoutMs?: number;
  /** Client certificate, key and the cluster CA (PEM) for a manager on TCP. */
  tls?: { ca: string; cert?: string; key?: string };
}

export type Filters = Record<string, string[]>;

/** A secret or config as the API returns it (Data never comes back for a secret). */
export interface SwarmObject<S> {
  ID: string;
  Version: { Index: number };
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: S;
}

export class ApiClient {
  private readonly http: HttpTransport;
  readonly target: string;

  constructor(opts: ApiClientOptions = {}) {
    const host = opts.host ?? process.env.SKIFF_HOST ?? `unix://${DEFAULT_SOCKET}`;
    this.target = host;
    const headersTimeoutMs = opts.timeoutMs ?? 30_000;
    if (host.startsWith('unix://') || host.startsWith('/')) {
      const socketPath = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
      this.http = new HttpTransport({ socketPath, origin: 'http://localhost', headersTimeoutMs });
    } else if (opts.tls && host.startsWith('tcp://')) {
      this.http = new HttpTransport({
        origin: host.replace(/^tcp:\/\//, 'https://'),
        tls: opts.tls,
        headersTimeoutMs,
      });
    } else {
      this.http = new HttpTransport({ origin: host.replace(/^tcp:\/\//, 'http://'), headersTimeoutMs });
    }
  }

  async close(): Promise<void> {
    this.http.close();
  }

  /** One request as it is, on this client's connection (`skiff dashboard` proxies through it). */
  request(r: TransportRequest): Promise<TransportResponse> {
    return this.http.request(r);
  }

  ping(): Promise<string> {
    return this.call<string>('GET', '/_ping', { text: true });
  }

  info(): Promise<Record<string, unknown>> {
    return this.call('GET', '/info');
  }

  /**
   * Docker's event stream (`GET /events`): each event to `onEvent` as it arrives, until
   * the server ends the stream (`until` passed) or `signal` aborts it.
   */
  async events(
    query: { since?: string; until?: string; filters?: Filters },
    onEvent: (e: Record<string, unknown>) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const qs = new URLSearchParams();
    if (query.since) qs.set('since', query.since);
    if (query.until) qs.set('until', query.until);
    if (query.filters && Object.keys(query.filters).length > 0)
      qs.set('filters', JSON.stringify(query.filters));
    let res: TransportResponse;
    try {
      res = await this.http.request({ method: 'GET', path: `/events?${qs}`, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (signal?.aborted) return;
      throw unreachable(this.target, e);
    }
    if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
    try {
      for await (const line of textLines(res.body)) onEvent(JSON.parse(line) as Record<string, unknown>);
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
  }

  /** The node's health (`GET /skiff/health`): 200 or 503, with what works and what does not. */
  async health(): Promise<{ status: number; body: Record<string, unknown> }> {
    let res: TransportResponse;
    try {
      res = await this.http.request({ method: 'GET', path: '/skiff/health' });
    } catch (e) {
      throw unreachable(this.target, e);
    }
    const text = await res.text();
    if (res.statusCode !== 200 && res.statusCode !== 503) throw toError(res.statusCode, text);
    return { status: res.statusCode, body: JSON.parse(text) as Record<string, unknown> };
  }

  swarmInspect(): Promise<Swarm> {
    return this.call('GET', '/swarm');
  }
  /** Docker's swarm update: the spec at `version`, and which tokens or keys to rotate. */
  swarmUpdate(
    version: number,
    spec: Swarm['Spec'],
    rotate: {
      worker?: boolean;
      manager?: boolean;
      unlockKey?: boolean;
      dataKey?: boolean;
      networkKey?: boolean;
    } = {},
  ): Promise<void> {
    const query: Record<string, string> = { version: String(version) };
    if (rotate.worker) query.rotateWorkerToken = 'true';
    if (rotate.manager) query.rotateManagerToken = 'true';
    if (rotate.unlockKey) query.rotateManagerUnlockKey = 'true';
    if (rotate.dataKey) query.rotateDataKey = 'true';
    if (rotate.networkKey) query.rotateNetworkKey = 'true';
    return this.call('POST', '/swarm/update', { query, body: spec, text: true }).then(() => undefined);
  }
  /** Takes the node serving the API out of its cluster. */
  swarmLeave(force = false): Promise<void> {
    return this.call('POST', '/swarm/leave', { query: force ? { force: 'true' } : {}, text: true }).then(
      () => undefined,
    );
  }
  swarmUnlockKey(): Promise<{ UnlockKey: string }> {
    return this.call('GET', '/swarm/unlockkey');
  }
  swarmUnlock(unlockKey: string): Promise<void> {
    return this.call('POST', '/swarm/unlock', { body: { UnlockKey: unlockKey }, text: true }).then(
      () => undefined,
    );
  }

  // ---- services
  listServices(filters?: Filters): Promise<Service[]> {
    return this.call('GET', '/services', { query: { filters, status: 'true' } });
  }
  inspectService(id: string): Promise<Service> {
    return this.call('GET', `/services/${encodeURIComponent(id)}`);
  }
  createService(spec: ServiceSpec): Promise<{ ID: string; Warnings?: string[] | null }> {
    return this.call('POST', '/services/create', { body: spec });
  }
  updateService(
    id: string,
    version: number,
    spec: ServiceSpec,
    opts: { rollback?: 'previous' } = {},
  ): Promise<{ Warnings?: string[] | null }> {
    return this.call('POST', `/services/${encodeURIComponent(id)}/update`, {
      query: { version: String(version), ...(opts.rollback ? { rollback: opts.rollback } : {}) },
      body: spec,
    });
  }
  removeService(id: string): Promise<void> {
    return this.call('DELETE', `/services/${encodeURIComponent(id)}`, { text: true }).then(() => undefined);
  }

  // ---- tasks and nodes
  listTasks(filters?: Filters): Promise<Task[]> {
    return this.call('GET', '/tasks', { query: { filters } });
  }
  listNodes(filters?: Filters): Promise<Node[]> {
    return this.call('GET', '/nodes', { query: { filters } });
  }
  inspectNode(id: string): Promise<Node> {
    return this.call('GET', `/nodes/${encodeURIComponent(id)}`);
  }
  updateNode(id: string, version: number, spec: NodeSpec): Promise<void> {
    return this.call('POST', `/nodes/${encodeURIComponent(id)}/update`, {
      query: { version: String(version) },
      body: spec,
      text: true,
    }).then(() => undefined);
  }

  removeNode(id: string, force = false): Promise<void> {
    return this.call('DELETE', `/nodes/${encodeURIComponent(id)}`, {
      query: force ? { force: 'true' } : {},
      text: true,
    }).then(() => undefined);
  }

  // ---- networks, secrets, configs
  listNetworks(filters?: Filters): Promise<Network[]> {
    return this.call('GET', '/networks', { query: { filters } });
  }
  createNetwork(req: NetworkCreateRequest): Promise<{ Id: string }> {
    return this.call('POST', '/networks/create', { body: req });
  }
  removeNetwork(id: string): Promise<void> {
    return this.call('DELETE', `/networks/${encodeURIComponent(id)}`, { text: true }).then(() => undefined);
  }
  /** Removes the networks no service uses (dockerd's `label`, `label!`, `until` filters). */
  pruneNetworks(filters?: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    return this.call('POST', '/networks/prune', { query: { filters } });
  }
  inspectNetwork(id: string): Promise<Network> {
    return this.call('GET', `/networks/${encodeURIComponent(id)}`);
  }
  inspectSecret(id: string): Promise<SwarmObject<SecretSpec>> {
    return this.call('GET', `/secrets/${encodeURIComponent(id)}`);
  }
  inspectConfig(id: string): Promise<SwarmObject<ConfigSpec>> {
    return this.call('GET', `/configs/${encodeURIComponent(id)}`);
  }
  listSecrets(filters?: Filters): Promise<{ ID: string; Spec: SecretSpec; Version: { Index: number } }[]> {
    return this.call('GET', '/secrets', { query: { filters } });
  }
  createSecret(spec: SecretSpec): Promise<{ ID: string }> {
    return this.call('POST', '/secrets/create', { body: spec });
  }
  removeSecret(id: string): Promise<void> {
    return this.call('DELETE', `/secrets/${encodeURIComponent(id)}`, { text: true }).then(() => undefined);
  }
  listConfigs(filters?: Filters): Promise<{ ID: string; Spec: ConfigSpec; Version: { Index: number } }[]> {
    return this.call('GET', '/configs', { query: { filters } });
  }
  createConfig(spec: ConfigSpec): Promise<{ ID: string }> {
    return this.call('POST', '/configs/create', { body: spec });
  }
  removeConfig(id: string): Promise<void> {
    return this.call('DELETE', `/configs/${encodeURIComponent(id)}`, { text: true }).then(() => undefined);
  }

  // ---- volumes (node-local; in single-node mode the manager's own node)
  async listVolumes(
    filters?: Filters,
  ): Promise<{ Name: string; Driver: string; Labels?: Record<string, string> }[]> {
    const r = await this.call<{
      Volumes?: { Name: string; Driver: string; Labels?: Record<string, string> }[];
    }>('GET', '/volumes', { query: { filters } });
    return r.Volumes ?? [];
  }
  removeVolume(name: string): Promise<void> {
    return this.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { text: true }).then(() => undefined);
  }
  listVolumesFull(filters?: Filters): Promise<DockerVolume[]> {
    return this.call<{ Volumes?: DockerVolume[] }>('GET', '/volumes', { query: { filters } }).then(
      (r) => r.Volumes ?? [],
    );
  }
  inspectVolume(name: string): Promise<DockerVolume> {
    return this.call('GET', `/volumes/${encodeURIComponent(name)}`);
  }
  /** Removes every volume no container uses (docker's `all`), those with the labels only when given. */
  pruneVolumes(labels: string[]): Promise<{ VolumesDeleted: string[] | null }> {
    return this.call('POST', '/volumes/prune', { query: { filters: { all: ['true'], label: labels } } });
  }

  // ---- images (node-local: the store of the node serving the API)
  listImages(): Promise<ImageSummary[]> {
    return this.call('GET', '/images/json');
  }
  /** Image names keep their slashes in the path, as docker sends them. */
  inspectImage(name: string): Promise<ImageInspect> {
    return this.call('GET', `/images/${imagePath(name)}/json`);
  }
  removeImage(name: string, force: boolean): Promise<{ Untagged?: string; Deleted?: string }[]> {
    return this.call('DELETE', `/images/${imagePath(name)}`, { query: force ? { force: 'true' } : {} });
  }
  tagImage(source: string, repo: string, tag: string | undefined): Promise<void> {
    return this.call('POST', `/images/${imagePath(source)}/tag`, {
      query: { repo, ...(tag ? { tag } : {}) },
      text: true,
    }).then(() => undefined);
  }
  // ---- containers of the node serving the API (a task's container ID is the task ID)
  killContainer(id: string, signal: string): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/kill`, {
      query: { signal },
      text: true,
    }).then(() => undefined);
  }
  pauseContainer(id: string): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/pause`, { text: true }).then(
      () => undefined,
    );
  }
  unpauseContainer(id: string): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/unpause`, { text: true }).then(
      () => undefined,
    );
  }
  topContainer(id: string, psArgs?: string): Promise<EngineContainerTop> {
    return this.call('GET', `/containers/${encodeURIComponent(id)}/top`, {
      query: psArgs ? { ps_args: psArgs } : {},
    });
  }
  /** What `path` is in the container (docker cp's HEAD archive), or undefined when it does not exist. */
  async statContainerPath(id: string, path: string): Promise<EnginePathStat | undefined> {
    const res = await this.raw('HEAD', `/containers/${encodeURIComponent(id)}/archive`, { path });
    await res.text();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode >= 400) throw toError(res.statusCode, '');
    const header = res.body.headers['x-docker-container-path-stat'];
    return JSON.parse(Buffer.from(String(header ?? ''), 'base64').toString('utf8')) as EnginePathStat;
  }
  /** A tar of `path` in the container, its entries named by the path's last component. */
  async getContainerArchive(id: string, path: string): Promise<Readable> {
    const res = await this.raw('GET', `/containers/${encodeURIComponent(id)}/archive`, { path });
    if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
    return res.body;
  }
  /** Extracts a tar into the directory `path` of the container. */
  async putContainerArchive(id: string, path: string, tar: Readable): Promise<void> {
    const res = await this.raw('PUT', `/containers/${encodeURIComponent(id)}/archive`, { path }, tar);
    const text = await res.text();
    if (res.statusCode >= 400) throw toError(res.statusCode, text);
  }

  // ---- the node's disk: what it holds (docker's /system/df) and housekeeping
  diskUsage(): Promise<SystemDiskUsage> {
    return this.call('GET', '/system/df');
  }
  /** Stopped containers no task owns, unused networks and images; with `volumes`, unused volumes. */
  systemPrune(opts: { all: boolean; volumes: boolean }): Promise<SystemPruneResult> {
    return this.call('POST', '/skiff/system/prune', {
      query: { all: String(opts.all), volumes: String(opts.volumes) },
    });
  }
  pruneImages(all: boolean): Promise<PruneImagesResult> {
    return this.call('POST', '/images/prune', { query: all ? { filters: { dangling: ['false'] } } : {} });
  }
  /** Checks registry credentials on the node (docker's POST /auth); nothing is stored there. */
  checkLogin(serveraddress: string, username: string, password: string): Promise<{ Status: string }> {
    return this.call('POST', '/auth', { body: { serveraddress, username, password } });
  }
  /** Makes an image of a rootfs tarball on the node (docker import); answers its ID. */
  async importImage(
    tarball: Readable,
    repo: string,
    tag: string | undefined,
    opts: { changes?: string[]; platform?: string } = {},
  ): Promise<string> {
    const query = new URLSearchParams({ fromSrc: '-', repo });
    if (tag) query.set('tag', tag);
    for (const c of opts.changes ?? []) query.append('changes', c);
    if (opts.platform) query.set('platform', opts.platform);
    const res = await this.send(`/images/create?${query}`, tarball, undefined, {
      'content-type': 'application/x-tar',
    });
    const text = await res.text();
    if (res.statusCode >= 400) throw toError(res.statusCode, text);
    const m = safeJson(text.trim().split('\n').at(-1) ?? '') as PullMessage | undefined;
    if (m?.error) throw new SkiffError('invalid_argument', m.error);
    return m?.status ?? '';
  }
  /**
   * The image as an OCI layout tar (docker save of one image), streamed, with the
   * image's size (its blobs) when the node says it.
   */
  async saveImage(name: string): Promise<{ body: Readable; size: number | undefined }> {
    let res: TransportResponse;
    try {
      res = await this.http.request({ method: 'GET', path: `/images/${imagePath(name)}/get` });
    } catch (e) {
      throw unreachable(this.target, e);
    }
    if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
    const size = Number(res.body.headers[IMAGE_SIZE_HEADER]);
    return { body: res.body, size: Number.isFinite(size) && size > 0 ? size : undefined };
  }

  /** Loads the images of an OCI layout tar into the node (docker load); answers what it said it loaded. */
  async loadImage(tarball: Readable): Promise<string[]> {
    const res = await this.send('/images/load', tarball, undefined, { 'content-type': 'application/x-tar' });
    const text = await res.text();
    if (res.statusCode >= 400) throw toError(res.statusCode, text);
    return text
      .split('\n')
      .map((l) => (safeJson(l) as { stream?: string } | undefined)?.stream?.trim())
      .filter((l): l is string => !!l);
  }

  /**
   * Has the chosen nodes (default: every ready node) fetch an image pinned by digest from
   * the node serving the API, which holds it; each node's events to `onMessage`.
   */
  async distributeImage(
    request: DistributeRequest,
    onMessage: (m: DistributeMessage) => void,
  ): Promise<void> {
    const res = await this.send('/skiff/images/distribute', request);
    if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
    for await (const line of textLines(res.body)) {
      const m = safeJson(line) as DistributeMessage | undefined;
      if (m && typeof m.node === 'string') onMessage(m);
    }
  }

  /** Pushes an image from the node, handing each progress message to `onMessage`. */
  async pushImage(
    name: string,
    tag: string,
    registryAuth: string | undefined,
    onMessage: (m: PullMessage) => void,
  ): Promise<void> {
    const res = await this.send(
      `/images/${imagePath(name)}/push?${new URLSearchParams({ tag })}`,
      undefined,
      undefined,
      registryAuth ? { 'x-registry-auth': registryAuth } : {},
    );
    await readProgress(res, onMessage);
  }

  /** Streams a service's (or task's) log lines, Docker's multiplexed framing decoded. */
  async *logs(
    kind: 'services' | 'tasks',
    id: string,
    opts: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; details?: boolean },
    signal?: AbortSignal,
  ): AsyncIterable<{ stream: 'stdout' | 'stderr'; line: string }> {
    const query: Record<string, string> = {
      stdout: '1',
      stderr: '1',
      details: opts.details === false ? '0' : '1',
    };
    if (opts.follow) query.follow = '1';
    if (opts.tail) query.tail = opts.tail;
    if (opts.timestamps) query.timestamps = '1';
    if (opts.since) query.since = opts.since;
    let res: TransportResponse;
    try {
      res = await this.http.request({
        method: 'GET',
        path: `/${kind}/${encodeURIComponent(id)}/logs?${new URLSearchParams(query)}`,
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw unreachable(this.target, e);
    }
    if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
    let buf = Buffer.alloc(0);
    for await (const chunk of res.body) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(4);
        if (buf.length < 8 + size) break;
        const stream = buf[0] === 2 ? 'stderr' : 'stdout';
        const text = buf.subarray(8, 8 + size).toString('utf8');
        buf = buf.subarray(8 + size);
        for (const line of text.split('\n')) if (line !== '') yield { stream, line };
      }
    }
  }

  /**
   * Runs a command in a task's container on the node serving the API, streaming its
   * output to `onOutput`; resolves with the command's exit code.
   */
  async exec(
    taskId: string,
    body: ExecBody,
    onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
    signal?: AbortSignal,
    stdin?: NodeJS.ReadableStream,
    /** With a TTY and stdin: subscribes to the terminal's size (sent at once, then on each change). */
    terminalSize?: (send: (height: number, width: number) => void) => () => void,
  ): Promise<number> {
    const path = `/tasks/${encodeURIComponent(taskId)}/exec`;
    // With stdin, the request body streams it while the output streams back.
    const input = stdin ? new PassThrough() : undefined;
    const toFrames = (d: Buffer | string) => input?.write(encodeFrame(STDIN, d));
    const endInput = () => input?.end();
    let unsubscribe: (() => void) | undefined;
    if (stdin && input) {
      input.write(encodeFrame(STDIN, ''));
      unsubscribe = terminalSize?.((h, w) =>
        input.write(encodeFrame(RESIZE, JSON.stringify({ Height: h, Width: w }))),
      );
      stdin.on('data', toFrames);
      stdin.once('end', endInput);
    }
    try {
      const res = input
        ? await this.send(path, input, signal, {
            'content-type': STDIN_CONTENT_TYPE,
            [EXEC_HEADER]: Buffer.from(JSON.stringify(body)).toString('base64'),
          })
        : await this.send(path, body, signal);
      if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
      return await readExecStream(res.body, onOutput);
    } finally {
      unsubscribe?.();
      if (stdin && input) {
        stdin.off('data', toFrames);
        stdin.off('end', endInput);
        input.end();
      }
    }
  }

  /**
   * Builds an image on the node from a context tar (Docker's POST /build, classic
   * builder), handing each line of output to `onOutput`; answers the image ID. A failed
   * build is an error carrying the builder's message.
   */
  async build(
    context: Readable,
    params: {
      tags: string[];
      dockerfile: string;
      buildArgs?: Record<string, string>;
      labels?: Record<string, string>;
      target?: string;
      noCache?: boolean;
      pull?: boolean;
      /** Secrets and ssh keys: sent in the body before the context (lib/build-protocol.ts). */
      credentials?: BuildCredentials;
    },
    onOutput: (text: string) => void,
  ): Promise<string> {
    const query = new URLSearchParams({ dockerfile: params.dockerfile, version: '1' });
    for (const t of params.tags) query.append('t', t);
    if (params.buildArgs) query.set('buildargs', JSON.stringify(params.buildArgs));
    if (params.labels) query.set('labels', JSON.stringify(params.labels));
    if (params.target) query.set('target', params.target);
    if (params.noCache) query.set('nocache', '1');
    if (params.pull) query.set('pull', '1');
    let body = context;
    if (params.credentials) {
      const block = Buffer.from(JSON.stringify(params.credentials));
      query.set(BUILD_CREDENTIALS_PARAM, String(block.length));
      body = Readable.from(
        (async function* () {
          yield block;
          yield* context;
        })(),
      );
    }
    const res = await this.send(`/build?${query}`, body, undefined, {
      'content-type': 'application/x-tar',
    });
    let id = '';
    await readProgress(
      res,
      (m) => {
        const msg = m as PullMessage & { stream?: string; aux?: { ID?: string } };
        if (typeof msg.stream === 'string') onOutput(msg.stream);
        if (typeof msg.aux?.ID === 'string') id = msg.aux.ID;
      },
      (error) => new SkiffError('invalid_argument', error),
    );
    if (id === '') throw new SkiffError('internal', 'the node ended the build without naming the image');
    return id;
  }

  /** Pulls an image on the node serving the API, handing each progress message to `onMessage`. */
  async pullImage(
    ref: string,
    onMessage: (m: PullMessage) => void,
    opts: { platform?: string /** name the image in an error (default) */; sayWhich?: boolean } = {},
  ): Promise<void> {
    const query = new URLSearchParams({ fromImage: ref });
    if (opts.platform) query.set('platform', opts.platform);
    const res = await this.send(`/images/create?${query}`, undefined);
    await readProgress(
      res,
      onMessage,
      (error) => new SkiffError('unavailable', opts.sayWhich === false ? error : `pulling ${ref}: ${error}`),
    );
  }

  private async send(
    path: string,
    body: unknown,
    signal?: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<TransportResponse> {
    try {
      return await this.http.request({
        method: 'POST',
        path,
        headers: headers ?? (body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body instanceof Readable ? { body } : body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw unreachable(this.target, e);
    }
  }

  private async raw(
    method: string,
    path: string,
    query: Record<string, string>,
    body?: Readable,
  ): Promise<TransportResponse> {
    try {
      return await this.http.request({
        method,
        path: `${path}?${new URLSearchParams(query)}`,
        ...(body ? { body, headers: { 'content-type': 'application/x-tar' } } : {}),
      });
    } catch (e) {
      throw unreachable(this.target, e);
    }
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    opts: { query?: Record<string, unknown>; body?: unknown; text?: boolean } = {},
  ): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    let res: TransportResponse;
    try {
      res = await this.http.request({
        method,
        path: `${path}${qs.size > 0 ? `?${qs}` : ''}`,
        ...(opts.body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(opts.body) }),
      });
    } catch (e) {
      throw unreachable(this.target, e);
    }
    const text = await res.text();
    if (res.statusCode >= 400) throw toError(res.statusCode, text);
    if (opts.text) return text as T;
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/** Docker's JSON progress lines to `onMessage`; an `error` message fails the call. */
async function readProgress(
  res: TransportResponse,
  onMessage: (m: PullMessage) => void,
  failure: (error: string) => SkiffError = (error) => new SkiffError('unavailable', error),
): Promise<void> {
  if (res.statusCode >= 400) throw toError(res.statusCode, await res.text());
  for await (const line of textLines(res.body)) {
    const m = safeJson(line) as PullMessage | undefined;
    if (!m) continue;
    if (m.error) throw failure(m.error);
    onMessage(m);
  }
}

/**
 * The non-blank lines of a streamed body (JSON lines: events, progress). A character
 * split across chunks is decoded whole, and a last line without its newline still counts.
 */
async function* textLines(body: AsyncIterable<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') yield line;
  }
  rest += decoder.decode();
  if (rest.trim() !== '') yield rest;
}

/** An image name in a path: its slashes stay, everything else is escaped. */
function imagePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** Output frames to `onOutput` until the status frame: the exit code, or the error it names. */
async function readExecStream(
  body: AsyncIterable<Buffer | Uint8Array>,
  onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
): Promise<number> {
  for await (const f of decodeFrames(body)) {
    if (f.stream !== STATUS) {
      onOutput(f.stream === STDERR ? 'stderr' : 'stdout', f.payload);
      continue;
    }
    const status = execStatusOf(safeJson(f.payload.toString('utf8')));
    if (!status) throw new SkiffError('internal', 'the manager sent an unreadable exec status');
    if ('ExitCode' in status) return status.ExitCode;
    throw new SkiffError('internal', `exec failed: ${status.message}`);
  }
  throw new SkiffError('unavailable', 'the exec stream ended before the command did', {
    hint: 'the node may have restarted; check `skiff daemon status`',
  });
}

function unreachable(target: string, e: unknown): SkiffError {
  // A server that is not a manager (requireManagerPeer) says so itself.
  if (e instanceof SkiffError && e.code === 'unauthorized') return e;
  const message = (e as Error).message;
  if (
    target.startsWith('tcp://') &&
    /certificate|SSL|TLS|socket hang up|ECONNRESET|other side closed/i.test(message)
  ) {
    return new SkiffError(
      'unavailable',
      `the TLS handshake with the manager at ${target} failed: ${message}`,
      {
        hint: "pass the cluster CA and a manager's certificate: --tlscacert, --tlscert, --tlskey (or SKIFF_CERT_PATH)",
        cause: e,
      },
    );
  }
  return new SkiffError('unavailable', `cannot reach the skiff manager at ${target}: ${message}`, {
    hint: 'is the node running? `skiff daemon status` tells; `skiff compose up` starts one',
    cause: e,
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toError(status: number, text: string): SkiffError {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  const code =
    status === 404
      ? 'not_found'
      : status === 409
        ? 'conflict'
        : status === 400
          ? 'invalid_argument'
          : status === 401 || status === 403
            ? 'forbidden'
            : status === 503
              ? 'unavailable'
              : 'internal';
  if (status === 401) {
    return new SkiffError(code, message || 'unauthorized', {
      hint: "pass a manager's client certificate: --tlscert and --tlskey (or SKIFF_CERT_PATH)",
    });
  }
  return new SkiffError(code, message || `HTTP ${status}`);
}
