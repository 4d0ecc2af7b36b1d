// Errors as typed values: a stable code a program can switch on, and a message
// written for the person reading it (what is wrong, where, how to fix it).

export type SkiffErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'conflict'
  | 'already_exists'
  | 'unauthorized'
  | 'forbidden'
  /** The request is well formed but the system is not in a state that allows it (gRPC FAILED_PRECONDITION). */
  | 'failed_precondition'
  | 'unavailable'
  | 'not_leader'
  | 'timeout'
  | 'internal'
  | 'corrupt'
  | 'unsupported';

export class SkiffError extends Error {
  readonly code: SkiffErrorCode;
  /** Optional hint shown under the message, e.g. the command that fixes it. */
  readonly hint: string | undefined;

  constructor(code: SkiffErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkiffError';
    this.code = code;
    this.hint = options?.hint;
  }
}

export function isSkiffError(e: unknown): e is SkiffError {
  return e instanceof SkiffError;
}

/** Turns anything thrown into a one-line message for people, never a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The HTTP status the API answers with for each error code. */
export function httpStatusFor(code: SkiffErrorCode): number {
  switch (code) {
    case 'invalid_argument':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
    case 'already_exists':
    case 'failed_precondition':
      return 409;
    case 'unsupported':
      return 501;
    case 'not_leader':
    case 'unavailable':
      return 503;
    case 'timeout':
      return 504;
    default:
      return 500;
  }
}
