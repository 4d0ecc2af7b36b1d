// The module's own typed error: raft must stay extractable, so it does not use lib/'s SkiffError,
// but it carries the same kind of stable code and a message written for people.

export type RaftErrorCode =
  | 'not_leader'
  | 'timeout'
  | 'term_changed'
  | 'stopped'
  | 'transferring'
  | 'conf_pending'
  | 'invalid_argument'
  | 'wal_corrupt'
  | 'snapshot_corrupt'
  | 'wrong_key'
  /** Data or a peer of a format this node does not read. */
  | 'unsupported_format'
  | 'io';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly leaderId: string | undefined;
  readonly leaderAddr: string | undefined;

  constructor(
    code: RaftErrorCode,
    message: string,
    opts?: { leaderId?: string; leaderAddr?: string; cause?: unknown },
  ) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RaftError';
    this.code = code;
    this.leaderId = opts?.leaderId || undefined;
    this.leaderAddr = opts?.leaderAddr || undefined;
  }
}

export function isRaftError(e: unknown, code?: RaftErrorCode): e is RaftError {
  return e instanceof RaftError && (code === undefined || e.code === code);
}
