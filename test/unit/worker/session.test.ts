import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession, type AgentSessionOptions, type Worker } from '../../../agent/worker/index.js';
import type {
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  Logger,
  RegisterResponse,
  TaskStatus,
  UpdateTaskStatusRequest,
} from '../../../lib/index.js';
import { DISPATCH_PROTOCOL, SkiffError, SWARM_TASK_ID_LABEL } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from './fake-stack.js';

/**
 * FAKE dispatcher: sessions s1, s2, … (one a registration) each sent an empty complete set,
 * their assignment stream then open until cancelled, as a gRPC stream is; the tests' variants
 * below override what they need of it.
 */
class FakeDispatcher implements DispatcherApi {
  registrations = 0;
  constructor(private readonly session: { heartbeatPeriodMs?: number; protocol?: number } = {}) {}
  async register(): Promise<RegisterResponse> {
    this.registrations++;
    return {
      nodeId: 'n1',
      sessionId: `s${this.registrations}`,
      heartbeatPeriodMs: this.session.heartbeatPeriodMs ?? 60_000,
      ...(this.session.protocol !== undefined ? { protocol: this.session.protocol } : {}),
    };
  }
  async heartbeat(_req: HeartbeatRequest) {
    return { heartbeatPeriodMs: this.session.heartbeatPeriodMs ?? 60_000 };
  }
  async *assignments(_req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    yield EMPTY_SET;
    await cancelled(signal);
  }
  async updateTaskStatus(_req: UpdateTaskStatusRequest) {}
  async publishLogs() {}
  async publishStats() {}
  async imageSources() {
    return { sources: [] };
  }
}

const EMPTY_SET: AssignmentsMessage = {
  type: 'complete',
  tasks: [],
  removedTasks: [],
  secrets: [],
  configs: [],
  networks: [],
};

const cancelled = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));

/** A session of node n1 with `dispatcher`, over the fake stack's worker. */
function sessionOn(
  dispatcher: DispatcherApi,
  stack: FakeStack,
  o: Partial<AgentSessionOptions> = {},
): { session: AgentSession; worker: Worker } {
  const worker = stack.worker(() => {});
  const session = new AgentSession({
    dispatcher: () => dispatcher,
    worker,
    nodeId: 'n1',
    addr: '10.0.0.1',
    description: { Hostname: 'n1' },
    ...o,
  });
  return { session, worker };
}

/** A logger whose warnings (and worse) go to `onEntry`, parsed. */
function logTo<T>(onEntry: (entry: T) => void): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) onEntry(JSON.parse(line) as T);
      done();
    },
  });
  return pino({ level: 'warn' }, sink);
}

/** FAKE dispatcher: one session, no tasks; refuses the first `failures` status batches. */
class FlakyDispatcher extends FakeDispatcher {
  readonly received: UpdateTaskStatusRequest[] = [];
  calls = 0;
  constructor(private failures: number) {
    super();
  }
  override async updateTaskStatus(req: UpdateTaskStatusRequest) {
    this.calls++;
    if (this.failures-- > 0) {
      // What the store answers when a concurrent write touched the task first.
      throw new SkiffError('conflict', 'update out of sequence: task t1 is at version 75');
    }
    this.received.push(req);
  }
}

const status = (State: TaskStatus['State']): TaskStatus => ({
  State,
  Message: State ?? '',
  Timestamp: new Date(0).toISOString(),
});

describe('agent session status reports', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  const start = async (dispatcher: FlakyDispatcher, statusRetryMs = 10) => {
    const { session, worker } = sessionOn(dispatcher, new FakeStack(), { batchDelayMs: 5, statusRetryMs });
    cleanups.push(() => session.stop());
    await worker.start();
    void session.run();
    await session.connected;
    return session;
  };

  it('sends a refused batch again by itself, even when no other report follows', async () => {
    const dispatcher = new FlakyDispatcher(2);
    const session = await start(dispatcher);
    session.report('t1', status('running'));
    await waitFor(() => dispatcher.received.length === 1, { what: 'the status to arrive', timeoutMs: 5000 });
    expect(dispatcher.calls).toBe(3);
    expect(dispatcher.received[0]?.updates).toEqual([{ taskId: 't1', status: status('running') }]);
  });

  it('sends the newest status of a task when a newer one arrived while a batch was refused', async () => {
    const dispatcher = new FlakyDispatcher(1);
    const session = await start(dispatcher, 300);
    session.report('t1', status('starting'));
    await waitFor(() => dispatcher.calls === 1, { what: 'the first (refused) batch', intervalMs: 2 });
    session.report('t1', status('running'));
    await waitFor(() => dispatcher.received.length > 0, { what: 'a batch to arrive', timeoutMs: 5000 });
    // The refused `starting` was not put back over the newer `running`.
    expect(dispatcher.received.flatMap((r) => r.updates)).toEqual([
      { taskId: 't1', status: status('running') },
    ]);
  });
});

/**
 * FAKE dispatcher: unreachable for the first `unreachable` registrations, then a session
 * whose assignment stream breaks when the test says so (its leader died).
 */
class FailoverDispatcher extends FakeDispatcher {
  private breakStream: ((e: Error) => void) | undefined;
  constructor(private unreachable: number) {
    super();
  }
  override async register() {
    if (this.unreachable-- > 0) {
      this.registrations++;
      throw new SkiffError('unavailable', 'dispatcher unreachable');
    }
    return super.register();
  }
  override async *assignments(
    _req: HeartbeatRequest,
    signal: AbortSignal,
  ): AsyncIterable<AssignmentsMessage> {
    yield EMPTY_SET;
    await new Promise<void>((resolve, reject) => {
      this.breakStream = reject;
      signal.addEventListener('abort', () => resolve());
    });
  }
  leaderDies(): void {
    this.breakStream?.(new SkiffError('unavailable', 'the stream broke'));
  }
}

describe('agent session reconnects', () => {
  it('looks for the next dispatcher at once when an established session breaks, whatever failed before', async () => {
    // Earlier failures grow the backoff (20, 40, 80, 160, 320 ms); a session that was
    // established and then broke must not inherit it, or the node stays away from a
    // new leader longer than the leader's grace before it marks unregistered nodes down.
    const retries: number[] = [];
    const log = logTo<{ msg?: string; retryInMs?: number }>((entry) => {
      if (entry.msg === 'dispatcher session ended' && entry.retryInMs !== undefined)
        retries.push(entry.retryInMs);
    });
    const dispatcher = new FailoverDispatcher(5);
    const { session, worker } = sessionOn(dispatcher, new FakeStack(), {
      log,
      minBackoffMs: 20,
      maxBackoffMs: 60_000,
    });
    try {
      await worker.start();
      void session.run();
      await session.connected;
      expect(retries).toEqual([20, 40, 80, 160, 320]);
      dispatcher.leaderDies();
      await waitFor(() => dispatcher.registrations === 7, { what: 'the next registration', timeoutMs: 5000 });
      expect(retries).toEqual([20, 40, 80, 160, 320, 20]);
    } finally {
      await session.stop();
    }
  });
});

describe('agent session protocol version', () => {
  it('refuses a dispatcher of a newer protocol, naming both versions, and asks for no assignments', async () => {
    const errors: string[] = [];
    const log = logTo<{ msg?: string; err?: string }>((entry) => {
      if (entry.msg === 'dispatcher session ended' && entry.err) errors.push(entry.err);
    });
    let streams = 0;
    const newer = new (class extends FakeDispatcher {
      // biome-ignore lint/correctness/useYield: never asked for
      override async *assignments() {
        streams++;
      }
    })({ protocol: DISPATCH_PROTOCOL + 1 });
    const { session, worker } = sessionOn(newer, new FakeStack(), { log, minBackoffMs: 20 });
    try {
      await worker.start();
      void session.run();
      await waitFor(() => errors.length >= 2, { what: 'two refused sessions', timeoutMs: 5000 });
      expect(errors[0]).toBe(
        `the dispatcher speaks dispatcher protocol ${DISPATCH_PROTOCOL + 1}; this agent speaks versions 1 to ${DISPATCH_PROTOCOL}`,
      );
      expect(streams).toBe(0);
    } finally {
      await session.stop();
    }
  });
});

/**
 * FAKE dispatcher: once `leaderDies()`, the heartbeats of the sessions open then fail (their
 * leader is gone), and a new registration lands on the next leader.
 */
class DyingLeaderDispatcher extends FakeDispatcher {
  private readonly dead = new Set<string>();
  constructor() {
    super({ heartbeatPeriodMs: 20 });
  }
  override async heartbeat(req: HeartbeatRequest) {
    if (this.dead.has(req.sessionId)) throw new SkiffError('unavailable', 'dispatcher unreachable');
    return super.heartbeat(req);
  }
  leaderDies(): void {
    for (let i = 1; i <= this.registrations; i++) this.dead.add(`s${i}`);
  }
}

describe('agent session while containers stop', () => {
  it('leaves a dead leader at once though the complete set is still stopping a container', async () => {
    // Found by the rolling-upgrade lab test: a restarted node's complete set stopped an
    // old container (10 s of grace), the session waited for it, so when the leader
    // stopped the node kept heartbeating it until the new leader marked the node down.
    const stack = new FakeStack();
    stack.containers.set('old', { id: 'old', state: 'running', labels: { [SWARM_TASK_ID_LABEL]: 'old' } });
    let release: () => void = () => {};
    stack.runtime.stop = (id) => {
      stack.calls.push(`stop ${id}`);
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const dispatcher = new DyingLeaderDispatcher();
    const { session, worker } = sessionOn(dispatcher, stack, { minBackoffMs: 10 });
    try {
      await worker.start();
      void session.run();
      // The orphan (no task of the set) is being stopped, and takes its time.
      await waitFor(() => stack.calls.includes('stop old'), { what: 'the orphan to be stopping' });
      dispatcher.leaderDies();
      await waitFor(() => dispatcher.registrations === 2, {
        what: 'a registration with the next leader while the stop goes on',
        timeoutMs: 3000,
      });
      expect(stack.calls.filter((c) => c === 'stop old')).toHaveLength(1);
    } finally {
      release();
      await session.stop();
    }
  });
});

/**
 * FAKE dispatcher whose first session is already stale when the node registers (a new
 * leader took over meanwhile): its heartbeats are refused at once, its status batch takes
 * a while, and its assignment stream (no complete set) ends only when cancelled.
 */
class StaleSessionDispatcher extends FakeDispatcher {
  constructor() {
    super({ heartbeatPeriodMs: 10 });
  }
  override async heartbeat(req: HeartbeatRequest) {
    if (req.sessionId === 's1')
      throw new SkiffError('unavailable', 'session of node n1 is not current; register again');
    return super.heartbeat(req);
  }
  override async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    if (req.sessionId !== 's1') yield EMPTY_SET;
    await cancelled(signal);
  }
  override async updateTaskStatus(req: UpdateTaskStatusRequest) {
    if (req.sessionId === 's1') await new Promise((r) => setTimeout(r, 100));
  }
}

describe('agent session that is stale from the start', () => {
  it('registers again when its heartbeat fails before it asked for assignments', async () => {
    // Found by the chaos run: a demoted node registered while the leader changed, its first
    // heartbeat failed while it was still sending its pending statuses, and its session then
    // waited forever on an assignment stream it had already given up, heartbeating in vain.
    const dispatcher = new StaleSessionDispatcher();
    const { session, worker } = sessionOn(dispatcher, new FakeStack(), { minBackoffMs: 10 });
    try {
      await worker.start();
      session.report('t1', status('running'));
      void session.run();
      await waitFor(() => dispatcher.registrations === 2, {
        what: 'a second registration after the stale session',
        timeoutMs: 3000,
      });
    } finally {
      await session.stop();
    }
  });
});
