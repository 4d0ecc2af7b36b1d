// Linearizability checker for a key-value register (Wing & Gong's search with Lowe's
// memoization of (linearized set, state)). Registers are independent objects, so each
// key's sub-history is checked on its own (linearizability is local).

export interface RegisterOp {
  kind: 'put' | 'get';
  key: string;
  /** put: the value written (unique per put); get: the value observed (null = absent). */
  value: string | null;
  invoke: number;
  /** Infinity when the outcome is unknown (the client never heard back). */
  response: number;
}

interface Event {
  op: number;
  call: boolean;
  time: number;
  match: Event | null;
  prev: Event | null;
  next: Event | null;
}

export interface LinearizabilityResult {
  ok: boolean;
  /** The key whose history has no valid linearization. */
  key?: string;
}

export function checkLinearizable(ops: RegisterOp[], maxSteps = 20_000_000): LinearizabilityResult {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  for (const [key, list] of byKey) {
    if (!checkRegister(list, maxSteps)) return { ok: false, key };
  }
  return { ok: true };
}

function checkRegister(ops: RegisterOp[], maxSteps: number): boolean {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    if (op.response < op.invoke) throw new Error(`operation ${i} responds before it is invoked`);
    const call: Event = { op: i, call: true, time: op.invoke, match: null, prev: null, next: null };
    const ret: Event = { op: i, call: false, time: op.response, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: concurrent-at-the-edge operations may overlap.
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Event = { op: -1, call: false, time: -1, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const words = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const cache = new Set<string>();
  const stack: { entry: Event; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  const lift = (e: Event) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Event) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  while (head.next !== null) {
    if (++steps > maxSteps) throw new Error('linearizability search exceeded its step budget');
    if (entry === null) return false;
    if (entry.call) {
      const op = ops[entry.op]!;
      const ok = op.kind === 'put' || op.value === state;
      if (ok) {
        const next: string | null = op.kind === 'put' ? op.value : state;
        words[entry.op >>> 5]! |= 1 << (entry.op & 31);
        const key = `${words.join(',')}|${next}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        words[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      words[top.entry.op >>> 5]! &= ~(1 << (top.entry.op & 31));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}
