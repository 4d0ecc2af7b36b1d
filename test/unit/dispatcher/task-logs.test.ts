// Task logs of other nodes through the dispatcher (its log broker): a subscription goes
// down the node's session, the node publishes its lines back, paced by the reader.
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../../../agent/worker/index.js';
import { Dispatcher, LogBroker, MAX_BUFFERED_LOG_LINES } from '../../../manager/dispatcher/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from '../worker/fake-stack.js';
import { FakeStore } from './fake-store.js';

interface FakeLine {
  taskId: string;
  stream: 'stdout' | 'stderr';
  time: Date;
  line: string;
}

describe('task logs through the dispatcher', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** FAKE node logs: each task has `count` lines; `read` records what was asked. */
  function setup(count: number) {
    const store = new FakeStore();
    const dispatcher = new Dispatcher({ store, heartbeatPeriodMs: 1000 });
    const stack = new FakeStack();
    const asked: { taskIds: readonly string[]; tail?: number }[] = [];
    let produced = 0;
    const agent = new AgentSession({
      dispatcher: () => dispatcher,
      worker: stack.worker(() => {}),
      nodeId: 'node2',
      addr: '10.0.0.2',
      description: { Hostname: 'n2' },
      logs: async function* (taskIds, q, signal): AsyncIterable<FakeLine> {
        asked.push({ taskIds, ...(q.tail !== undefined ? { tail: q.tail } : {}) });
        for (let i = 0; i < count && !signal.aborted; i++) {
          for (const taskId of taskIds) {
            produced++;
            yield {
              taskId,
              stream: i % 2 ? 'stderr' : 'stdout',
              time: new Date(1000 + i),
              line: `${taskId} line ${i}`,
            };
          }
          // Let the publisher's batches go out between lines.
          if (i % 100 === 0) await new Promise((r) => setImmediate(r));
        }
      },
    });
    cleanups.push(async () => {
      await agent.stop();
      dispatcher.stop();
    });
    return { store, dispatcher, agent, asked, produced: () => produced };
  }

  it("reads another node's task lines in order, with their stream and time, and ends", async () => {
    const { dispatcher, agent, asked } = setup(300);
    void agent.run();
    await agent.connected;
    const lines: FakeLine[] = [];
    for await (const l of dispatcher.taskLogs(
      'node2',
      { taskIds: ['t1'], follow: false, tail: 300 },
      new AbortController().signal,
    )) {
      lines.push(l);
    }
    expect(asked).toEqual([{ taskIds: ['t1'], tail: 300 }]);
    expect(lines).toHaveLength(300);
    expect(lines[0]).toEqual({ taskId: 't1', stream: 'stdout', time: new Date(1000), line: 't1 line 0' });
    expect(lines[299]?.line).toBe('t1 line 299');
    expect(lines[1]?.stream).toBe('stderr');
  });

  it('holds the node back while the reader is slow, and stops the node when the reader leaves', async () => {
    const { dispatcher, agent, produced } = setup(100_000);
    void agent.run();
    await agent.connected;
    const abort = new AbortController();
    const it = dispatcher
      .taskLogs('node2', { taskIds: ['t1'], follow: true }, abort.signal)
      [Symbol.asyncIterator]();
    expect((await it.next()).value?.line).toBe('t1 line 0');
    // The reader stops reading: the node fills the broker's bound (and its own batch) and waits.
    await waitFor(() => produced() >= MAX_BUFFERED_LOG_LINES, { what: 'the node to fill the bound' });
    const held = produced();
    await new Promise((r) => setTimeout(r, 200));
    expect(produced()).toBeLessThan(held + 1024);
    abort.abort();
    await it.return?.();
    await waitFor(() => dispatcher.openLogReads === 0, { what: 'the subscription to close' });
    expect(produced()).toBeLessThan(100_000);
  });

  it('fails a read of a node without a session, naming the node', async () => {
    const { dispatcher } = setup(1);
    await expect(
      (async () => {
        for await (const _ of dispatcher.taskLogs(
          'node9',
          { taskIds: ['x'], follow: false },
          new AbortController().signal,
        )) {
          // nothing
        }
      })(),
    ).rejects.toThrow(/node node9 is not connected/);
  });

  it('refuses a read from an agent that does not serve task logs instead of waiting on it', async () => {
    const store = new FakeStore();
    const dispatcher = new Dispatcher({ store, heartbeatPeriodMs: 1000 });
    const old = new AgentSession({
      dispatcher: () => dispatcher,
      worker: new FakeStack().worker(() => {}),
      nodeId: 'old',
      addr: '10.0.0.3',
      description: { Hostname: 'old' },
    });
    cleanups.push(async () => {
      await old.stop();
      dispatcher.stop();
    });
    void old.run();
    await old.connected;
    await expect(
      (async () => {
        for await (const _ of dispatcher.taskLogs(
          'old',
          { taskIds: ['x'], follow: false },
          new AbortController().signal,
        )) {
          // nothing
        }
      })(),
    ).rejects.toThrow(/node old runs an older skiff that does not send task logs/);
  });

  it("keeps a node to the tasks it was asked for, and refuses lines for another node's read", async () => {
    const sent: { nodeId: string; id?: string }[] = [];
    const broker = new LogBroker((nodeId, c) => {
      sent.push({ nodeId, ...(c.subscribe ? { id: c.subscribe.id } : {}) });
      return true;
    });
    const abort = new AbortController();
    const it = broker
      .subscribe('node2', { taskIds: ['t1'], follow: true }, abort.signal)
      [Symbol.asyncIterator]();
    const first = it.next();
    await waitFor(() => sent.length === 1, { what: 'the subscription to be sent' });
    const id = sent[0]!.id!;
    const line = (taskId: string, text: string) => ({
      taskId,
      stream: 'stdout' as const,
      timeMs: 1,
      line: text,
    });
    await expect(
      broker.publish('node3', {
        nodeId: 'node3',
        sessionId: 's',
        subscriptionId: id,
        lines: [line('t1', 'forged')],
      }),
    ).rejects.toThrow(/no reader/);
    await broker.publish('node2', {
      nodeId: 'node2',
      sessionId: 's',
      subscriptionId: id,
      lines: [line('secret-task', 'not asked for'), line('t1', 'mine')],
      done: true,
    });
    expect((await first).value?.line).toBe('mine');
    expect((await it.next()).done).toBe(true);
  });
});
