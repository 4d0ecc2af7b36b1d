// Bounded task history: each slot keeps at most TaskHistoryRetentionLimit tasks
// (the live one included), deleting the oldest dead ones; slots the service no
// longer keeps lose their dead tasks.

import { DEFAULT_TASK_HISTORY, isLive, isObservedTerminal } from './model.js';
import type { Pass } from './pass.js';
import type { SlotView } from './update.js';

export function trimHistory(
  p: Pass,
  slots: readonly SlotView[],
  keptKeys: ReadonlySet<string>,
  limit: number = DEFAULT_TASK_HISTORY,
  keep: (id: string) => boolean = () => false,
): void {
  if (limit < 0) return;
  for (const slot of slots) {
    const tasks = slot.tasks.map((t) => p.tasks.get(t.ID) ?? t);
    // Only tasks the agent has finished with and the manager has let go of may go.
    const dead = tasks.filter((t) => !isLive(t) && isObservedTerminal(t) && !keep(t.ID));
    const excess = keptKeys.has(slot.key) ? tasks.length - limit : dead.length;
    for (const t of dead.slice(0, Math.max(0, excess))) p.remove(t.ID);
  }
}
