// The role supervisor: a cluster node runs as a manager or as a worker, and the cluster
// may change that (`node promote`, `node demote`). The running role notices and says so;
// the supervisor has it get ready for the other role while it still runs (a certificate
// for the new role, raft membership), then stops it and starts the other in its place.
// A leave and a role switch exclude each other.
import type { Logger } from '../lib/index.js';
import { describeError, SkiffError } from '../lib/index.js';
import type { AcceptedJoin } from '../manager/index.js';
import type { RunningNode } from './options.js';

export type NodeRole = 'manager' | 'worker';

/** What a running role tells the supervisor. */
export interface RoleEvents {
  /** The cluster gave this node the other role (seen in a registration or the store). */
  roleChanged(): void;
  /** A leave starts: refused while the role switches; no switch after it. */
  beginLeave(): void;
  /** A leave failed and the node is still a member: it may switch roles again. */
  leaveFailed(): void;
}

/** The other role, ready to start once the current one has stopped. */
export interface NextRole {
  role: NodeRole;
  /** A promotion's raft membership and identity, granted by the leader. */
  joined?: AcceptedJoin;
  /** Puts the state directory in the new role's shape (runs after the old role stopped). */
  prepareStateDir(): Promise<void>;
  /**
   * Asked after the role failed to start: the role the cluster gives the node now, when
   * it changed its mind meanwhile (undefined: retry this one). A node demoted again
   * before its raft heard from the leader was taken out of the group: as a manager it
   * would wait for a leader no one sends, and only a running role notices a change.
   */
  instead?(): Promise<NextRole | undefined>;
}

export interface RoleRun {
  role: NodeRole;
  nodeId: string;
  /** Resolves when the node has left its cluster. */
  left: Promise<void>;
  /** Resolves when the role cannot go on (a manager whose raft storage failed). */
  failed?: Promise<Error>;
  /** Gets ready for the other role while this one runs; rejects while the cluster does not see the change yet. */
  prepareSwitch(): Promise<NextRole>;
  /** Stops the role; safe to call more than once. */
  stop(): Promise<void>;
}

export type StartRole = (role: NodeRole, events: RoleEvents, joined?: AcceptedJoin) => Promise<RoleRun>;

const RETRY_MS = 1000;

/** Starts the node in its first role and keeps it in the role the cluster gives it. */
export async function superviseRoles(
  startRole: StartRole,
  first: {
    role: NodeRole;
    joined?: AcceptedJoin;
    /** Asked when the first role fails to start, as NextRole.instead. */
    instead?: () => Promise<NextRole | undefined>;
  },
  log: Logger,
): Promise<RunningNode> {
  let current: RoleRun;
  /** A switch or a leave is under way. */
  let busy = false;
  let stopped = false;
  /** The stop-and-start part of a switch, which a stop waits for. */
  let handover: Promise<void> | undefined;
  let resolveLeft!: () => void;
  const left = new Promise<void>((r) => {
    resolveLeft = r;
  });
  let resolveFailed!: (e: Error) => void;
  const failed = new Promise<Error>((r) => {
    resolveFailed = r;
  });

  /**
   * Each started role gets its own events: a change seen while it starts waits until it
   * runs, and what a stopped role still reports is ignored.
   */
  const eventsFor = () => {
    let state: 'starting' | 'current' | 'retired' = 'starting';
    let changeSeen = false;
    const events: RoleEvents = {
      roleChanged() {
        if (stopped || state === 'retired') return;
        if (state === 'starting') {
          changeSeen = true;
          return;
        }
        if (busy) return;
        busy = true;
        // Outside the store's or the dispatcher's callback that noticed it.
        setImmediate(() => void switchRole(events, retire));
      },
      beginLeave() {
        if (busy) throw new SkiffError('unavailable', 'this node is changing its role; retry in a moment');
        busy = true;
      },
      leaveFailed() {
        busy = false;
      },
    };
    const retire = () => {
      state = 'retired';
    };
    const adopt = (run: RoleRun) => {
      current = run;
      state = 'current';
      void run.left.then(resolveLeft);
      void run.failed?.then(resolveFailed);
      if (changeSeen) events.roleChanged();
    };
    return { events, adopt };
  };

  const start = async (role: NodeRole, joined: AcceptedJoin | undefined) => {
    const { events, adopt } = eventsFor();
    const run = await startRole(role, events, joined);
    return () => adopt(run);
  };

  const switchRole = async (events: RoleEvents, retire: () => void) => {
    const from = current;
    const change = from.role === 'manager' ? 'a worker after demotion' : 'a manager after promotion';
    let next: NextRole;
    try {
      next = await from.prepareSwitch();
    } catch (err) {
      log.error({ err: describeError(err) }, `could not switch to ${change}; will retry`);
      busy = false;
      setTimeout(() => events.roleChanged(), RETRY_MS).unref();
      return;
    }
    if (stopped) return;
    retire();
    handover = (async () => {
      await from.stop().catch((err: unknown) => {
        log.warn({ err: describeError(err) }, `stopping the ${from.role} role failed; switching anyway`);
      });
      let target = next;
      while (!stopped) {
        try {
          await target.prepareStateDir();
          const adopt = await start(target.role, target.joined);
          busy = false;
          adopt();
          return;
        } catch (err) {
          const what = target === next ? change : `a ${target.role}`;
          log.error({ err: describeError(err) }, `could not start as ${what}; will retry`);
          const other = await target.instead?.().catch((e: unknown) => {
            log.warn({ err: describeError(e) }, "could not ask the managers for this node's role");
            return undefined;
          });
          if (other && !stopped) {
            log.info(
              { role: other.role },
              `the cluster changed this node's role meanwhile: starting as a ${other.role}`,
            );
            target = other;
            continue;
          }
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    })();
    await handover;
    handover = undefined;
  };

  // A first role that cannot start may be one the cluster took away while the node was
  // down: the node asks, and starts in the role it has now (else the error stands).
  const startFirst = async () => {
    try {
      return await start(first.role, first.joined);
    } catch (err) {
      const other = await first.instead?.().catch((e: unknown) => {
        log.warn({ err: describeError(e) }, "could not ask the managers for this node's role");
        return undefined;
      });
      if (!other) throw err;
      log.error({ err: describeError(err) }, `could not start as a ${first.role}`);
      log.info(
        { role: other.role },
        `the cluster changed this node's role while it was down: starting as a ${other.role}`,
      );
      await other.prepareStateDir();
      return start(other.role, other.joined);
    }
  };
  (await startFirst())();
  return {
    get nodeId() {
      return current.nodeId;
    },
    left,
    failed,
    async stop() {
      stopped = true; // no role switch after this
      await handover;
      await current.stop();
    },
  };
}
