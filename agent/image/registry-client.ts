// A client for the OCI distribution API over undici: endpoint selection (mirrors, plain
// HTTP for insecure registries), the auth dance (anonymous, basic, bearer tokens with
// scopes), manifests, blobs with Range, and uploads. It knows nothing of the store.
import type { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import { basicAuthHeader, type Challenge, type Credentials, parseChallenges } from './auth.js';
import { registryEndpointHost } from './reference.js';

export interface RegistryOptions {
  /** Mirror endpoints tried in order before the registry itself, for pulls: `docker.io → ['http://10.0.0.5:5000']`. */
  mirrors?: Record<string, string[]>;
  /** Registries spoken to over plain HTTP when HTTPS fails (loopback hosts always are). */
  insecure?: string[];
}

export interface ClientOptions {
  registries?: RegistryOptions;
  credentials: (registry: string) => Promise<Credentials | undefined>;
  logger?: Logger;
  /** Per-request header timeout (default 30 s). */
  timeoutMs?: number;
}

type Action = 'pull' | 'push';

interface Endpoint {
  /** The registry name credentials are kept under. */
  registry: string;
  /** `host[:port]` requests go to. */
  host: string;
  /** Known scheme, or both to try (https first) for insecure hosts. */
  schemes: ('https' | 'http')[];
}

interface HostAuth {
  challenge?: Challenge;
  tokens: Map<string, { token: string; expires: number }>;
}

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH';
  /** Path (and query) below the origin, or an absolute URL from a Location header. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable | (() => Readable);
  repository: string;
  actions: Action[];
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { text(): Promise<string>; dump(): Promise<void> };
  url: string;
}

const USER_AGENT = 'skiff';
const REDIRECTS = 5;

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\./.test(name) || name === '[::1]';
}

function header(res: { headers: Response['headers'] }, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class RegistryClient {
  // undici loads at the first request (~140 ms of a node's start otherwise): most starts pull nothing.
  private agents: Promise<{ agent: Agent; insecureAgent: Agent }> | undefined;
  private readonly log: Logger;
  private readonly schemeOf = new Map<string, 'https' | 'http'>();
  private readonly auth = new Map<string, HostAuth>();

  constructor(private readonly opts: ClientOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  private connectionPools(): Promise<{ agent: Agent; insecureAgent: Agent }> {
    this.agents ??= import('undici').then((undici) => {
      // Bundled, the CommonJS package is one default export (its module.exports); run from
      // source, Node adds the named ones too: the default holds them both ways.
      const { Agent } = undici.default;
      const timeout = this.opts.timeoutMs ?? 30_000;
      return {
        agent: new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connections: 16 }),
        // Insecure registries may also serve HTTPS with a certificate nobody vouches for (as in docker).
        insecureAgent: new Agent({
          headersTimeout: timeout,
          bodyTimeout: timeout,
          connections: 16,
          connect: { rejectUnauthorized: false },
        }),
      };
    });
    return this.agents;
  }

  async close(): Promise<void> {
    if (!this.agents) return;
    const { agent, insecureAgent } = await this.agents;
    await Promise.all([agent.close(), insecureAgent.close()]);
  }

  private isInsecure(host: string): boolean {
    return isLoopback(host) || (this.opts.registries?.insecure ?? []).includes(host);
  }

  /** Sends one HTTP request; TLS verification is off only for insecure registries. */
  private async http(
    opts: { origin: string } & Omit<Dispatcher.RequestOptions, 'origin'>,
  ): Promise<Dispatcher.ResponseData> {
    const url = new URL(opts.origin);
    const { agent, insecureAgent } = await this.connectionPools();
    return (url.protocol === 'https:' && this.isInsecure(url.host) ? insecureAgent : agent).request(opts);
  }

  /** Endpoints to try for a registry: mirrors first for pulls, then the registry. */
  endpoints(registry: string, action: Action): Endpoint[] {
    const out: Endpoint[] = [];
    if (action === 'pull') {
      for (const mirror of this.opts.registries?.mirrors?.[registry] ?? []) {
        const url = new URL(mirror.includes('://') ? mirror : `https://${mirror}`);
        out.push({
          registry: url.host,
          host: url.host,
          schemes: [url.protocol === 'http:' ? 'http' : 'https'],
        });
      }
    }
    const host = registryEndpointHost(registry);
    const insecure = this.isInsecure(host) || (this.opts.registries?.insecure ?? []).includes(registry);
    out.push({ registry, host, schemes: insecure ? ['https', 'http'] : ['https'] });
    return out;
  }

  /** Sends a request, answering auth challenges once; follows redirects for GET/HEAD. */
  async request(ep: Endpoint, spec: RequestSpec): Promise<Response> {
    let authorized = false;
    for (;;) {
      const res = await this.send(ep, spec);
      if (res.status !== 401 || authorized) return res;
      await res.body.dump();
      const challenges = parseChallenges(header(res, 'www-authenticate'));
      const challenge =
        challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
      if (!challenge) {
        throw new SkiffError(
          'unauthorized',
          `authentication required for ${ep.registry}: it sent no usable challenge`,
        );
      }
      const state = this.hostAuth(ep.host);
      state.challenge = challenge;
      this.log.debug(
        { registry: ep.registry, scheme: challenge.scheme },
        'registry asked for authentication',
      );
      if (challenge.scheme === 'bearer') await this.fetchToken(ep, spec.repository, spec.actions, true);
      else if (!(await this.opts.credentials(ep.registry))) throw this.authRequired(ep.registry);
      authorized = true;
    }
  }

  private authRequired(registry: string): SkiffError {
    return new SkiffError(
      'unauthorized',
      `authentication required for ${registry}: run \`skiff login ${registry}\``,
      {
        hint: `skiff login ${registry}`,
      },
    );
  }

  private hostAuth(host: string): HostAuth {
    let state = this.auth.get(host);
    if (!state) {
      state = { tokens: new Map() };
      this.auth.set(host, state);
    }
    return state;
  }

  private async authorization(ep: Endpoint, spec: RequestSpec): Promise<string | undefined> {
    const state = this.auth.get(ep.host);
    if (!state?.challenge) return undefined;
    if (state.challenge.scheme === 'basic') {
      const creds = await this.opts.credentials(ep.registry);
      return creds ? basicAuthHeader(creds) : undefined;
    }
    const token = await this.fetchToken(ep, spec.repository, spec.actions, false);
    return `Bearer ${token}`;
  }

  private async fetchToken(
    ep: Endpoint,
    repository: string,
    actions: Action[],
    force: boolean,
  ): Promise<string> {
    const state = this.hostAuth(ep.host);
    const params = state.challenge?.params ?? {};
    const scope = `repository:${repository}:${actions.join(',')}`;
    const cached = state.tokens.get(scope);
    if (!force && cached && cached.expires > Date.now()) return cached.token;
    const realm = params.realm;
    if (!realm)
      throw new SkiffError(
        'unauthorized',
        `registry ${ep.registry} asked for a bearer token without a realm`,
      );
    const url = new URL(realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', scope);
    const creds = await this.opts.credentials(ep.registry);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (creds) headers.authorization = basicAuthHeader(creds);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.http({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers,
      });
    } catch (e) {
      throw new SkiffError(
        'unavailable',
        `cannot reach the token server of ${ep.registry} at ${url.origin}: ${(e as Error).message}`,
      );
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      if (!creds) throw this.authRequired(ep.registry);
      throw new SkiffError(
        'unauthorized',
        `authentication failed for ${ep.registry}: the token server refused the credentials`,
        {
          hint: `check the user and password, then run \`skiff login ${ep.registry}\` again`,
        },
      );
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new SkiffError(
        'unavailable',
        `token server of ${ep.registry} answered ${res.statusCode}: ${text.slice(0, 200)}`,
      );
    }
    const doc = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = doc.token ?? doc.access_token;
    if (!token) throw new SkiffError('unauthorized', `token server of ${ep.registry} sent no token`);
    // Refresh a little before the token ends (default lifetime 60 s per the token spec).
    const lifetime = Math.max(10, (doc.expires_in ?? 60) - 5) * 1000;
    state.tokens.set(scope, { token, expires: Date.now() + lifetime });
    return token;
  }

  private async send(ep: Endpoint, spec: RequestSpec): Promise<Response> {
    let url = await this.resolveUrl(ep, spec.path);
    // Credentials go only to the registry's own origin — scheme, host and port — as the
    // registry was reached: a redirect to another host, or from https down to http on the
    // same host, gets none (a blob store or a downgrade must not see them).
    const registryOrigin = this.endpointOrigin(ep);
    for (let hop = 0; hop <= REDIRECTS; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...spec.headers };
      if (new URL(url).origin === registryOrigin) {
        const authz = await this.authorization(ep, spec);
        if (authz) headers.authorization = authz;
      }
      const body = typeof spec.body === 'function' ? spec.body() : spec.body;
      const u = new URL(url);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.http({
          origin: u.origin,
          path: u.pathname + u.search,
          method: spec.method,
          headers,
          body: body ?? null,
        });
      } catch (e) {
        throw new SkiffError(
          'unavailable',
          `cannot reach registry ${ep.registry} (${u.origin}): ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      const location = header({ headers: res.headers }, 'location');
      if (
        (spec.method === 'GET' || spec.method === 'HEAD') &&
        [301, 302, 303, 307, 308].includes(res.statusCode) &&
        location
      ) {
        await res.body.dump();
        url = new URL(location, url).toString();
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body as Response['body'], url };
    }
    throw new SkiffError('unavailable', `registry ${ep.registry} redirected more than ${REDIRECTS} times`);
  }

  /** `scheme://host[:port]` of the endpoint as this client speaks to it, once known. */
  private endpointOrigin(ep: Endpoint): string | undefined {
    const scheme = this.schemeOf.get(ep.host) ?? (ep.schemes.length === 1 ? ep.schemes[0] : undefined);
    return scheme ? new URL(`${scheme}://${ep.host}`).origin : undefined;
  }

  /** Absolute URL for a path; learns https vs http for insecure hosts with a /v2/ ping. */
  private async resolveUrl(ep: Endpoint, path: string): Promise<string> {
    if (/^https?:\/\//.test(path)) return path;
    let scheme = this.schemeOf.get(ep.host);
    if (!scheme) {
      scheme = ep.schemes.length === 1 ? ep.schemes[0]! : await this.probeScheme(ep);
      this.schemeOf.set(ep.host, scheme);
    }
    return `${scheme}://${ep.host}${path}`;
  }

  private async probeScheme(ep: Endpoint): Promise<'https' | 'http'> {
    let last: unknown;
    for (const scheme of ep.schemes) {
      try {
        const res = await this.http({
          origin: `${scheme}://${ep.host}`,
          path: '/v2/',
          method: 'GET',
          headers: { 'user-agent': USER_AGENT },
        });
        await res.body.dump();
        return scheme;
      } catch (e) {
        last = e;
      }
    }
    throw new SkiffError(
      'unavailable',
      `cannot reach registry ${ep.registry}: ${(last as Error)?.message ?? 'no answer'}`,
      {
        hint: 'check the address and that the registry is running',
      },
    );
  }

  /** Checks the credentials this client was built with against the registry's /v2/. */
  async verifyLogin(registry: string): Promise<void> {
    const ep = this.endpoints(registry, 'push').at(-1)!;
    const url = new URL(await this.resolveUrl(ep, '/v2/'));
    const get = async (headers: Record<string, string>) => {
      const res = await this.http({
        origin: url.origin,
        path: '/v2/',
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, ...headers },
      });
      await res.body.dump();
      return res;
    };
    const first = await get({});
    if (first.statusCode === 200) return;
    const failed = new SkiffError(
      'unauthorized',
      `login to ${registry} failed: the registry refused the user name or password`,
    );
    if (first.statusCode !== 401) {
      throw new SkiffError('unavailable', `registry ${registry} answered ${first.statusCode} on /v2/`);
    }
    const creds = await this.opts.credentials(registry);
    if (!creds) throw failed;
    const challenges = parseChallenges(header({ headers: first.headers }, 'www-authenticate'));
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer?.params.realm) {
      const tokenUrl = new URL(bearer.params.realm);
      if (bearer.params.service) tokenUrl.searchParams.set('service', bearer.params.service);
      tokenUrl.searchParams.set('account', creds.username);
      const res = await this.http({
        origin: tokenUrl.origin,
        path: tokenUrl.pathname + tokenUrl.search,
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, authorization: basicAuthHeader(creds) },
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw failed;
      return;
    }
    const second = await get({ authorization: basicAuthHeader(creds) });
    if (second.statusCode !== 200) throw failed;
  }

  /** `/v2/` ping: resolves when the registry answers (401 counts: it is there). */
  async ping(registry: string): Promise<void> {
    const ep = this.endpoints(registry, 'pull').at(-1)!;
    const url = await this.resolveUrl(ep, '/v2/');
    const u = new URL(url);
    const res = await this.http({ origin: u.origin, path: u.pathname, method: 'GET' });
    await res.body.dump();
    if (res.statusCode !== 200 && res.statusCode !== 401) {
      throw new SkiffError(
        'unavailable',
        `registry ${registry} answered ${res.statusCode} on /v2/: not a registry?`,
      );
    }
  }
}

/** Reads the registry's error JSON (`{errors:[{code,message}]}`) for messages. */
export async function registryErrorText(res: Response): Promise<string> {
  const text = await res.body.text().catch(() => '');
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = doc.errors?.[0];
    if (first) return `${first.code ?? ''}${first.message ? `: ${first.message}` : ''}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || `HTTP ${res.status}`;
}

export function responseHeader(res: Response, name: string): string | undefined {
  return header(res, name);
}
