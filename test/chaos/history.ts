// The chaos run's record of client operations and what it concludes from it: pure, so a
// recorded history (or a doctored one) is checked without a cluster.
//
// Each service, secret and config name is a register: a create, update or scale writes
// the operation's unique value (kept in the object's `chaos.v` label), a remove writes
// null. A write the manager refused (4xx) had no effect and is left out; a write whose
// answer never came (timeout, 5xx, a manager that died) may or may not have happened,
// which the checker is told (response = Infinity). Reads are the final reads from every
// manager once the faults are healed: mid-run reads are left out because a follower
// answers reads from its own copy of the store, which may trail the leader by what is
// in flight (manager/store/read-gate.ts) — the contract is for writes.
import { checkLinearizable, type RegisterOp } from '../support/linearizability.js';

export type Outcome = 'ok' | 'fail' | 'unknown';
export type ObjectKind = 'service' | 'secret' | 'config';
export type OpKind = 'create' | 'update' | 'scale' | 'remove' | 'read';

export interface OpRecord {
  id: number;
  client: number;
  kind: OpKind;
  object: ObjectKind;
  /** The object's name. */
  name: string;
  /** create/update/scale: the value written; remove: null; read: what was seen. */
  value: string | null;
  /** The manager (lab host name) the request went to. */
  via: string;
  /** Milliseconds since the run started. */
  invoke: number;
  /** Milliseconds since the run started; null while unknown. */
  response: number | null;
  outcome: Outcome;
  detail?: string;
}

export const registerKey = (op: Pick<OpRecord, 'object' | 'name'>) => `${op.object}/${op.name}`;

/** The history as the register checker wants it. */
export function toRegisterOps(history: readonly OpRecord[]): RegisterOp[] {
  const out: RegisterOp[] = [];
  for (const op of history) {
    if (op.outcome === 'fail') continue;
    if (op.kind === 'read' && op.outcome !== 'ok') continue;
    out.push({
      kind: op.kind === 'read' ? 'get' : 'put',
      key: registerKey(op),
      value: op.value,
      invoke: op.invoke,
      response: op.outcome === 'ok' && op.response !== null ? op.response : Number.POSITIVE_INFINITY,
    });
  }
  return out;
}

export interface LostWrite {
  key: string;
  /** What the managers hold at the end. */
  found: string | null;
  /** The values that could be there: acknowledged last writes and writes of unknown outcome after them. */
  allowed: (string | null)[];
}

/**
 * Keys whose final value no acknowledged write allows: the final value must be written
 * by a write not overtaken by an acknowledged write that began after it ended (or be
 * the initial absence when nothing was acknowledged).
 */
export function lostWrites(
  history: readonly OpRecord[],
  finals: ReadonlyMap<string, string | null>,
): LostWrite[] {
  const writes = new Map<string, OpRecord[]>();
  for (const op of history) {
    if (op.kind === 'read' || op.outcome === 'fail') continue;
    const k = registerKey(op);
    writes.set(k, [...(writes.get(k) ?? []), op]);
  }
  const lost: LostWrite[] = [];
  for (const [key, found] of finals) {
    const ws = writes.get(key) ?? [];
    const acked = ws.filter((w) => w.outcome === 'ok');
    const end = (w: OpRecord) =>
      w.outcome === 'ok' && w.response !== null ? w.response : Number.POSITIVE_INFINITY;
    const allowed: (string | null)[] = ws
      .filter((w) => !acked.some((q) => q.invoke > end(w)))
      .map((w) => w.value);
    if (acked.length === 0) allowed.push(null);
    if (!allowed.includes(found)) lost.push({ key, found, allowed: [...new Set(allowed)] });
  }
  return lost;
}

export interface HistoryVerdict {
  acknowledged: number;
  failed: number;
  unknown: number;
  lost: LostWrite[];
  linearizable: boolean;
  /** The first key with no valid linearization. */
  badKey?: string;
}

/**
 * Leaves out the writes of unknown outcome whose value no read saw. A put is blind and
 * its value unique: if a linearization places such a write, no read follows it before the
 * next write (the read would see its value), so the same order without it holds too, and
 * "it never happened" is allowed for an unknown outcome. The search is exponential in the
 * writes left open, and a long run with a manager down collects hundreds of them (a
 * 30-minute run exceeded the checker's step budget and crashed before its summary).
 */
export function withoutUnseenUnknowns(ops: readonly RegisterOp[]): RegisterOp[] {
  const seen = new Set(ops.filter((op) => op.kind === 'get').map((op) => `${op.key}\u0000${op.value}`));
  return ops.filter(
    (op) =>
      op.kind === 'get' || op.response !== Number.POSITIVE_INFINITY || seen.has(`${op.key}\u0000${op.value}`),
  );
}

/** Linearizability of the writes with the final reads, and the lost writes. */
export function judgeHistory(
  history: readonly OpRecord[],
  finals: ReadonlyMap<string, string | null>,
): HistoryVerdict {
  const writes = history.filter((op) => op.kind !== 'read');
  // The agreed final state, read after every operation ended.
  const end = Math.max(0, ...history.map((op) => op.response ?? op.invoke)) + 1;
  const reads = [...finals].map(([key, value]) => ({
    kind: 'get' as const,
    key,
    value,
    invoke: end,
    response: end,
  }));
  const lin = checkLinearizable(withoutUnseenUnknowns([...toRegisterOps(history), ...reads]));
  return {
    acknowledged: writes.filter((op) => op.outcome === 'ok').length,
    failed: writes.filter((op) => op.outcome === 'fail').length,
    unknown: writes.filter((op) => op.outcome === 'unknown').length,
    lost: lostWrites(history, finals),
    linearizable: lin.ok,
    ...(lin.key ? { badKey: lin.key } : {}),
  };
}

/** The request loop's figures: success rate and the longest run of failures, in time. */
export interface Probe {
  at: number;
  host: string;
  ok: boolean;
}

export function requestFigures(probes: readonly Probe[]): {
  requests: number;
  ok: number;
  successRate: number;
  longestOutageMs: number;
} {
  const sorted = [...probes].sort((a, b) => a.at - b.at);
  let longest = 0;
  let failingSince: number | undefined;
  for (const p of sorted) {
    if (p.ok) {
      if (failingSince !== undefined) longest = Math.max(longest, p.at - failingSince);
      failingSince = undefined;
    } else failingSince ??= p.at;
  }
  const last = sorted.at(-1);
  if (failingSince !== undefined && last) longest = Math.max(longest, last.at - failingSince);
  const ok = sorted.filter((p) => p.ok).length;
  return {
    requests: sorted.length,
    ok,
    successRate: sorted.length ? ok / sorted.length : 0,
    longestOutageMs: longest,
  };
}
