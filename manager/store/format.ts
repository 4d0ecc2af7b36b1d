// The store's formats: each log entry (a proposal) and each snapshot carries `v`, the
// format it was written in. A manager reads the formats up to its own and refuses a newer
// one with both versions named, rather than misread it; data written before the field
// existed reads as format 1. A refusal halts raft (`halt`): skipping a committed entry
// would leave this manager's state apart from the others'.
import { SkiffError } from '../../lib/index.js';

/** The format this skiff writes, and the newest it reads, of store log entries and snapshots. */
export const STORE_FORMAT = 1;

/** A store entry or snapshot of a format this skiff does not read. */
export class StoreFormatError extends SkiffError {
  /** Tells raft to stop rather than apply past it (RaftNode's StateMachine contract). */
  readonly halt = true;
}

/** The format of a decoded entry or snapshot body; throws StoreFormatError for one this skiff does not read. */
export function storeFormatOf(raw: Record<string, unknown>, what: string): number {
  const v = raw.v ?? 1;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= STORE_FORMAT) return v;
  throw new StoreFormatError(
    'unsupported',
    `${what} is of store format ${String(v)}; this skiff reads store formats 1 to ${STORE_FORMAT}`,
    { hint: 'a newer skiff wrote it: upgrade this manager to the version the other managers run' },
  );
}
