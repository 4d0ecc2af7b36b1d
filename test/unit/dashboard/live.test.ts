// The dashboard server's live hub: a node event that arrives while a status poll is
// under way keeps the hub polling fast; it used to be overwritten by that poll's
// (older) answer, and a scale's new replica then showed only after the 5 s idle pause.
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveHub, type LiveMessage } from '../../../dashboard/server/live.js';
import type { Upstream, UpstreamRequest } from '../../../dashboard/server/upstream.js';
import type { Service } from '../../../lib/index.js';
import { silentLogger } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';

const web = (running: number, replicas: number, version: number): Service => ({
  ID: 's1',
  Version: { Index: version },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'app_web', Mode: { Replicated: { Replicas: replicas } } },
  ServiceStatus: { RunningTasks: running, DesiredTasks: replicas, CompletedTasks: 0 },
});

/** A node whose status answers the test releases one by one, and whose events it writes. */
class HeldNode implements Upstream {
  services = [web(2, 2, 1)];
  polls = 0;
  hold = false;
  private held: (() => void)[] = [];
  private readonly events = new PassThrough();

  emit(e: unknown): void {
    this.events.write(`${JSON.stringify(e)}\n`);
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  get waiting(): number {
    return this.held.length;
  }

  async request(r: UpstreamRequest) {
    if (r.path === '/events') {
      r.signal?.addEventListener('abort', () => this.events.end(), { once: true });
      return { statusCode: 200, body: this.events, text: async () => '' };
    }
    this.polls++;
    // What the node holds when the request arrives is what it answers.
    const body = JSON.stringify(this.services);
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    return { statusCode: 200, body: Readable.from([body]), text: async () => body };
  }
}

let hub: LiveHub | undefined;
afterEach(async () => {
  await hub?.close();
});

describe('LiveHub', () => {
  it('polls again soon after a change announced during a poll', async () => {
    const node = new HeldNode();
    hub = new LiveHub(node, silentLogger);
    const seen: LiveMessage[] = [];
    hub.listen((m) => seen.push(m));
    hub.start();
    // Settled: everything runs, the hub goes idle (5 s between polls).
    await waitFor(() => node.polls >= 1 && seen.some((m) => m.event === 'change'), {
      what: 'the first poll',
      timeoutMs: 5000,
      intervalMs: 10,
    });
    // A poll is under way with the state from before the scale ...
    node.hold = true;
    node.emit({ Type: 'service', Action: 'update', Actor: { ID: 's1' } });
    await waitFor(() => node.waiting === 1, { what: 'a poll under way', timeoutMs: 5000, intervalMs: 10 });
    // ... when the scale lands and its event arrives.
    node.services = [web(2, 3, 2)];
    node.emit({ Type: 'service', Action: 'update', Actor: { ID: 's1' } });
    await waitFor(() => seen.filter((m) => m.event === 'change' && m.data.action === 'update').length === 2, {
      what: 'the scale event passed on',
      timeoutMs: 5000,
      intervalMs: 10,
    });
    node.hold = false;
    const polls = node.polls;
    const notices = seen.length;
    node.release();
    // The next poll comes after the busy interval (500 ms), well before the idle one (5 s).
    await waitFor(() => node.polls > polls, { what: 'another poll', timeoutMs: 3500, intervalMs: 10 });
    const notice = await waitFor(
      () => seen.slice(notices).find((m) => m.event === 'change' && m.data.action === 'status'),
      { what: 'the scale noticed', timeoutMs: 3500, intervalMs: 10 },
    );
    expect(notice.data).toMatchObject({ type: 'service', id: 's1' });
  });

  it('passes the node’s container events on as its tasks’ events, and other containers’ as they are', async () => {
    const node = new HeldNode();
    hub = new LiveHub(node, silentLogger);
    const seen: LiveMessage[] = [];
    hub.listen((m) => seen.push(m));
    hub.start();
    await waitFor(() => node.polls >= 1, { what: 'the first poll', timeoutMs: 5000, intervalMs: 10 });
    const labels = {
      'com.docker.swarm.task.id': 't1',
      'com.docker.swarm.task.name': 'app_web.1.t1',
      'com.docker.swarm.service.id': 's1',
      'com.docker.swarm.service.name': 'app_web',
    };
    node.emit({
      Type: 'container',
      Action: 'die',
      Actor: { ID: 'c1', Attributes: { ...labels, exitCode: '3' } },
    });
    node.emit({ Type: 'container', Action: 'start', Actor: { ID: 'c2', Attributes: { name: 'solo' } } });
    const changes = await waitFor(
      () => {
        const c = seen.flatMap((m) => (m.event === 'change' && m.data.action !== 'status' ? [m.data] : []));
        return c.length === 2 ? c : undefined;
      },
      { what: 'both events', timeoutMs: 5000, intervalMs: 10 },
    );
    expect(changes).toEqual([
      {
        type: 'task',
        action: 'die',
        id: 't1',
        name: 'app_web.1.t1',
        service: 's1',
        serviceName: 'app_web',
        exitCode: '3',
      },
      { type: 'container', action: 'start', id: 'c2', name: 'solo' },
    ]);
  });
});
