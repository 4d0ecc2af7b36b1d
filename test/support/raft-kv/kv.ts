// A tiny replicated key-value map: the state machine behind the process test and benchmark.

import type { StateMachine } from '../../../manager/raft/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface KvPut {
  key: string;
  value: string;
}

export function encodePut(p: KvPut): Uint8Array {
  return encoder.encode(JSON.stringify(p));
}

export class KvStateMachine implements StateMachine {
  readonly map = new Map<string, string>();
  appliedIndex = 0;
  restores = 0;
  snapshots = 0;

  apply(entry: { index: number; term: number; data: Uint8Array }): void {
    const p = JSON.parse(decoder.decode(entry.data)) as Partial<KvPut>;
    if (typeof p.key === 'string' && typeof p.value === 'string') this.map.set(p.key, p.value);
    this.appliedIndex = entry.index;
  }

  snapshot(): Uint8Array {
    this.snapshots++;
    return encoder.encode(JSON.stringify({ index: this.appliedIndex, entries: [...this.map] }));
  }

  restore(snapshot: Uint8Array): void {
    const s = JSON.parse(decoder.decode(snapshot)) as { index: number; entries: [string, string][] };
    this.map.clear();
    for (const [k, v] of s.entries) this.map.set(k, v);
    this.appliedIndex = s.index;
    this.restores++;
  }
}
