// The stacks page: services grouped by their stack (compose project) label.
import type { ServiceRow } from './rows.js';

export interface StackRow {
  name: string;
  services: number;
  running: number;
  desired: number;
  /** Services short of replicas. */
  short: number;
  /** Services mid-rollout. */
  updating: number;
}

export function stackRows(services: readonly ServiceRow[]): StackRow[] {
  const by = new Map<string, StackRow>();
  for (const s of services) {
    if (!s.stack) continue;
    const row = by.get(s.stack) ?? {
      name: s.stack,
      services: 0,
      running: 0,
      desired: 0,
      short: 0,
      updating: 0,
    };
    row.services++;
    row.running += s.running;
    row.desired += s.desired;
    if (s.short) row.short++;
    if (s.update?.active) row.updating++;
    by.set(s.stack, row);
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name));
}
