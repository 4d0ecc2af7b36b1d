// Task CPU and memory of other nodes through the dispatcher (its stats broker): a request
// goes down the node's session, the node answers once; a node that cannot answer fails
// the read in time instead of holding it. And how a manager joins the nodes' answers.
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../../../agent/worker/index.js';
import type { TaskStatsSample } from '../../../lib/index.js';
import { clusterStatsSource, mergeNodeAnswers } from '../../../manager/cluster-stats.js';
import { Dispatcher, StatsBroker } from '../../../manager/dispatcher/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from '../worker/fake-stack.js';
import { FakeStore } from './fake-store.js';

describe('task stats through the dispatcher', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function agentFor(
    dispatcher: Dispatcher,
    nodeId: string,
    stats?: (ids: readonly string[]) => Promise<TaskStatsSample[]>,
  ) {
    const agent = new AgentSession({
      dispatcher: () => dispatcher,
      worker: new FakeStack().worker(() => {}),
      nodeId,
      addr: '10.0.0.2',
      description: { Hostname: nodeId },
      ...(stats ? { stats } : {}),
    });
    cleanups.push(() => agent.stop());
    void agent.run();
    return agent;
  }

  function dispatcherOf() {
    const dispatcher = new Dispatcher({ store: new FakeStore(), heartbeatPeriodMs: 1000 });
    cleanups.push(() => dispatcher.stop());
    return dispatcher;
  }

  it("reads another node's tasks, only those asked for", async () => {
    const dispatcher = dispatcherOf();
    const asked: (readonly string[])[] = [];
    const agent = agentFor(dispatcher, 'node2', async (ids) => {
      asked.push(ids);
      return [
        { taskId: 't1', cpuNanos: 5e9, memoryBytes: 1 << 20 },
        // A node that answers about more than it was asked is kept to the question.
        { taskId: 'other', cpuNanos: 1, memoryBytes: 1 },
      ];
    });
    await agent.connected;
    const got = await dispatcher.taskStats('node2', ['t1'], 2000);
    expect(asked).toEqual([['t1']]);
    expect(got.stats).toEqual([{ taskId: 't1', cpuNanos: 5e9, memoryBytes: 1 << 20 }]);
    expect(got.timeMs).toBeGreaterThan(0);
  });

  it('fails at once for a node without a session and for an agent that does not serve stats', async () => {
    const dispatcher = dispatcherOf();
    await expect(dispatcher.taskStats('node9', ['x'], 2000)).rejects.toThrow(/node node9 is not connected/);
    const old = agentFor(dispatcher, 'old');
    await old.connected;
    await expect(dispatcher.taskStats('old', ['x'], 60_000)).rejects.toThrow(
      /node old runs an older skiff that does not send task stats/,
    );
  });

  it('gives up on a node that does not answer within the deadline, and forgets the request', async () => {
    const dispatcher = dispatcherOf();
    const agent = agentFor(dispatcher, 'slow', () => new Promise<TaskStatsSample[]>(() => {}));
    await agent.connected;
    const started = Date.now();
    await expect(dispatcher.taskStats('slow', ['t1'], 200)).rejects.toThrow(
      /node slow did not answer within 200ms/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses an answer from another node than the one asked, and one nobody waits for', async () => {
    const sent: { nodeId: string; id: string }[] = [];
    const broker = new StatsBroker((nodeId, r) => {
      sent.push({ nodeId, id: r.id });
      return true;
    });
    const read = broker.request('node2', ['t1'], 5000);
    await waitFor(() => sent.length === 1, { what: 'the request to be sent' });
    const id = sent[0]!.id;
    const answer = { sessionId: 's', requestId: id, timeMs: 7, stats: [{ taskId: 't1', memoryBytes: 3 }] };
    expect(() => broker.publish('node3', { ...answer, nodeId: 'node3' })).toThrow(/nobody waits/);
    broker.publish('node2', { ...answer, nodeId: 'node2' });
    expect(await read).toEqual({ timeMs: 7, stats: [{ taskId: 't1', memoryBytes: 3 }] });
    expect(broker.open).toBe(0);
    expect(() => broker.publish('node2', { ...answer, nodeId: 'node2' })).toThrow(/nobody waits/);
  });

  it('fails the reads of a node whose session ends', async () => {
    const broker = new StatsBroker(() => true);
    const read = broker.request('node2', ['t1'], 60_000);
    broker.nodeGone('node2');
    await expect(read).rejects.toThrow(/node node2 disconnected/);
  });
});

describe('a cluster-wide stats read', () => {
  const task = (id: string, nodeId?: string) =>
    ({ ID: id, ...(nodeId ? { NodeID: nodeId } : {}) }) as unknown as import('../../../lib/index.js').Task;

  it('joins the answers of every node by task and names the nodes that did not answer', () => {
    expect(
      mergeNodeAnswers([
        { nodeId: 'n2', answer: { timeMs: 20, stats: [{ taskId: 'b', cpuNanos: 2, memoryBytes: 20 }] } },
        { nodeId: 'n3', error: 'node n3 did not answer within 2000ms' },
        { nodeId: 'n1', answer: { timeMs: 10, stats: [{ taskId: 'a', cpuNanos: 1, memoryBytes: 10 }] } },
      ]),
    ).toEqual({
      tasks: [
        { taskId: 'a', nodeId: 'n1', timeMs: 10, cpuNanos: 1, memoryBytes: 10 },
        { taskId: 'b', nodeId: 'n2', timeMs: 20, cpuNanos: 2, memoryBytes: 20 },
      ],
      unreachable: [{ nodeId: 'n3', message: 'node n3 did not answer within 2000ms' }],
    });
  });

  it('reads its own tasks locally, the others remotely side by side, and does not wait past the deadline', async () => {
    const remoteAsked: { nodeId: string; ids: readonly string[] }[] = [];
    const source = clusterStatsSource({
      nodeId: 'me',
      local: async (ids) => ids.map((taskId) => ({ taskId, memoryBytes: 1 })),
      remote: async (nodeId, ids, timeoutMs) => {
        remoteAsked.push({ nodeId, ids });
        if (nodeId === 'dead') {
          await new Promise((r) => setTimeout(r, timeoutMs));
          throw new Error(`node dead did not answer within ${timeoutMs}ms`);
        }
        return { timeMs: 5, stats: ids.map((taskId) => ({ taskId, memoryBytes: 2 })) };
      },
      timeoutMs: 300,
      now: () => 9,
    });
    const started = Date.now();
    const got = await source([
      task('l1', 'me'),
      task('r1', 'other'),
      task('r2', 'other'),
      task('d1', 'dead'),
      task('unplaced'),
    ]);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(remoteAsked).toEqual([
      { nodeId: 'other', ids: ['r1', 'r2'] },
      { nodeId: 'dead', ids: ['d1'] },
    ]);
    expect(got.tasks).toEqual([
      { taskId: 'l1', nodeId: 'me', timeMs: 9, memoryBytes: 1 },
      { taskId: 'r1', nodeId: 'other', timeMs: 5, memoryBytes: 2 },
      { taskId: 'r2', nodeId: 'other', timeMs: 5, memoryBytes: 2 },
    ]);
    expect(got.unreachable).toEqual([{ nodeId: 'dead', message: 'node dead did not answer within 300ms' }]);
  });

  it('bounds a local read that hangs too, and says a manager without an agent has no figures', async () => {
    const hung = clusterStatsSource({
      nodeId: 'me',
      local: () => new Promise(() => {}),
      remote: async () => ({ timeMs: 0, stats: [] }),
      timeoutMs: 100,
    });
    expect((await hung([task('l1', 'me')])).unreachable).toEqual([
      { nodeId: 'me', message: 'node me did not answer within 100ms' },
    ]);
    const agentless = clusterStatsSource({
      nodeId: 'me',
      local: undefined,
      remote: async () => ({ timeMs: 0, stats: [] }),
      timeoutMs: 100,
    });
    expect((await agentless([task('l1', 'me')])).unreachable[0]?.message).toMatch(/runs no agent/);
  });
});
