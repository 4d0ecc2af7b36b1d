// The dashboard server against a fake node: the token and cookie gate, the read-only
// window on the API, the scale action, and change notices on the event stream.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Dashboard, Upstream } from '../../../dashboard/index.js';
import { startDashboard } from '../../../dashboard/index.js';
import type { Service } from '../../../lib/index.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, opts: { cookie?: string; host?: string; method?: string; body?: string } = {}) {
  return new Promise<Answer>((done, fail) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.host) headers.host = opts.host;
    if (opts.body) headers['content-type'] = 'application/json';
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: opts.method ?? 'GET',
        headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', fail);
    req.end(opts.body);
  });
}

function service(id: string, name: string, replicas: number, running: number, version = 1): Service {
  return {
    ID: id,
    Version: { Index: version },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, Mode: { Replicated: { Replicas: replicas } } },
    ServiceStatus: { RunningTasks: running, DesiredTasks: replicas, CompletedTasks: 0 },
  };
}

/** A node with services in memory; `/events` stays open and carries `emit`'s lines. */
class FakeNode implements Upstream {
  services: Service[] = [service('s1', 'app_web', 2, 2)];
  updates: { path: string; body: unknown }[] = [];
  readonly requested: string[] = [];
  private readonly streams = new Set<PassThrough>();

  /** The node ends its event streams (a restart, a leader change). */
  dropEvents(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
  }

  emit(event: unknown): void {
    for (const s of this.streams) s.write(`${JSON.stringify(event)}\n`);
  }

  async request(r: { method: string; path: string; body?: string; signal?: AbortSignal }) {
    this.requested.push(`${r.method} ${r.path}`);
    if (r.path === '/events') {
      const s = new PassThrough();
      this.streams.add(s);
      r.signal?.addEventListener('abort', () => s.destroy());
      return { statusCode: 200, body: s, text: async () => '' };
    }
    const answer = (status: number, v: unknown) => {
      const text = JSON.stringify(v);
      const body = Object.assign(Readable.from([Buffer.from(text)]), {
        headers: { 'content-type': 'application/json' },
      });
      return { statusCode: status, body, text: async () => text };
    };
    const path = r.path.split('?')[0];
    if (path === '/info') return answer(200, { Name: 'host-1' });
    if (path === '/services') return answer(200, this.services);
    const m = /^\/services\/([^/]+)(\/update)?$/.exec(path ?? '');
    const s = this.services.find((x) => x.ID === m?.[1]);
    if (m && !s) return answer(404, { message: `service ${m[1]} not found` });
    if (m && s && m[2] && r.method === 'POST') {
      this.updates.push({ path: r.path, body: JSON.parse(r.body ?? 'null') });
      return answer(200, {});
    }
    if (m && s) return answer(200, s);
    return answer(404, { message: 'page not found' });
  }
}

describe('the dashboard server', () => {
  let node: FakeNode;
  let dash: Dashboard;
  let assets: string;

  beforeEach(async () => {
    node = new FakeNode();
    assets = mkdtempSync(join(tmpdir(), 'skiff-dash-'));
    writeFileSync(join(assets, 'app.js'), 'console.log(1)');
    writeFileSync(join(assets, 'app.css'), 'body{}');
    dash = await startDashboard({ upstream: node, assetsDir: assets });
  });
  afterEach(async () => {
    await dash.close();
    rmSync(assets, { recursive: true, force: true });
  });

  /** Trades the printed URL's token for the session cookie. */
  async function login(): Promise<string> {
    const r = await get(dash.url);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    return setCookie.split(';')[0] ?? '';
  }

  it('prints a URL on 127.0.0.1 with a long random token', () => {
    expect(dash.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
  });

  it('refuses every page, asset and API call without the token or its cookie', async () => {
    for (const path of ['', 'assets/app.js', 'api/node/services', 'api/events', 'api/node/info?token=nope']) {
      const r = await get(`${dash.origin}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.body).toContain('skiff dashboard');
    }
    const scale = await get(`${dash.origin}api/services/s1/scale`, {
      method: 'POST',
      body: '{"replicas":3}',
    });
    expect(scale.status).toBe(401);
    expect(node.updates).toEqual([]);
  });

  it('trades the token once for a session cookie that opens everything', async () => {
    const cookie = await login();
    const page = await get(dash.origin, { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain('/assets/app.js');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect((await get(`${dash.origin}assets/app.js`, { cookie })).body).toBe('console.log(1)');
    // The token works once: a second browser with the same URL is refused.
    expect((await get(dash.url)).status).toBe(401);
    // A wrong cookie is no cookie.
    expect((await get(dash.origin, { cookie: `${cookie.split('=')[0]}=${'0'.repeat(64)}` })).status).toBe(
      401,
    );
  });

  it('refuses a host name other than its own (DNS rebinding)', async () => {
    const cookie = await login();
    const port = new URL(dash.origin).port;
    expect((await get(dash.origin, { cookie, host: `evil.example:${port}` })).status).toBe(403);
    expect((await get(dash.origin, { cookie, host: `localhost:${port}` })).status).toBe(200);
  });

  it("passes reads of the node's API through, and nothing else", async () => {
    const cookie = await login();
    const r = await get(`${dash.origin}api/node/services?status=true`, { cookie });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as Service[]).map((s) => s.Spec.Name)).toEqual(['app_web']);
    expect(node.requested).toContain('GET /services?status=true');
    expect((await get(`${dash.origin}api/node/swarm`, { cookie })).status).toBe(404);
    expect((await get(`${dash.origin}api/node/services/nope`, { cookie })).status).toBe(404);
  });

  it('scales a replicated service at the version it read', async () => {
    const cookie = await login();
    node.services = [service('s1', 'app_web', 2, 2, 7)];
    const r = await get(`${dash.origin}api/services/s1/scale`, {
      cookie,
      method: 'POST',
      body: '{"replicas":3}',
    });
    expect(r.status).toBe(200);
    expect(node.updates).toEqual([
      {
        path: '/services/s1/update?version=7',
        body: { Name: 'app_web', Mode: { Replicated: { Replicas: 3 } } },
      },
    ]);
    const bad = await get(`${dash.origin}api/services/s1/scale`, {
      cookie,
      method: 'POST',
      body: '{"replicas":-1}',
    });
    expect(bad.status).toBe(400);
    const missing = await get(`${dash.origin}api/services/zz/scale`, {
      cookie,
      method: 'POST',
      body: '{"replicas":1}',
    });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ message: 'service zz not found' });
  });

  it("turns the node's events and the services' progress into change notices", async () => {
    const cookie = await login();
    const u = new URL(`${dash.origin}api/events`);
    const received: string[] = [];
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { cookie } });
    const opened = new Promise<void>((done, fail) => {
      req.on('response', (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (c: string) => received.push(c));
        done();
      });
      req.on('error', fail);
    });
    req.end();
    await opened;
    const seen = (what: string) =>
      new Promise<void>((done, fail) => {
        const deadline = Date.now() + 10_000;
        const check = () => {
          if (received.join('').includes(what)) return done();
          if (Date.now() > deadline) return fail(new Error(`no ${what} in ${received.join('')}`));
          setTimeout(check, 20);
        };
        check();
      });
    try {
      await seen('event: hello');
      node.emit({ Type: 'service', Action: 'update', Actor: { ID: 's1', Attributes: { name: 'app_web' } } });
      await seen('"action":"update","id":"s1","name":"app_web"');
      // A replica starting is no event of the node's: the status poll tells.
      node.services = [service('s1', 'app_web', 3, 3, 2), service('s2', 'app_db', 1, 0)];
      node.emit({ Type: 'service', Action: 'create', Actor: { ID: 's2', Attributes: { name: 'app_db' } } });
      await seen('"action":"status","id":"s2"');
      // Changes may have been missed while the node's stream was down: browsers reload.
      node.dropEvents();
      await seen('event: resync');
    } finally {
      req.destroy();
    }
  });
});
