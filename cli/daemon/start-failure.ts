// Why a background node did not start, from what it wrote to daemon.log during this
// attempt: the CLI's own `error:`/`hint:` lines (a refusal before the node ran, e.g. a
// state format it does not read) or the last pino line at level error or above. The
// user sees the reason where they typed `skiff daemon start`, not a pointer to a file.

export interface StartFailure {
  reason?: string;
  hint?: string;
}

const PINO_ERROR = 50;

/** Reads the reason out of the log text written since the start attempt began. */
export function startFailureFromLog(text: string): StartFailure {
  let reason: string | undefined;
  let hint: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('error: ')) {
      reason = line.slice('error: '.length);
      hint = undefined;
    } else if (line.startsWith('hint: ') && reason !== undefined) {
      hint = line.slice('hint: '.length);
    } else if (line.startsWith('{')) {
      const entry = parseJsonLine(line);
      if (
        entry &&
        typeof entry.level === 'number' &&
        entry.level >= PINO_ERROR &&
        typeof entry.msg === 'string'
      ) {
        const err = typeof entry.err === 'string' ? entry.err : undefined;
        reason = err ? `${entry.msg} (${err})` : entry.msg;
        hint = undefined;
      }
    }
  }
  return { ...(reason !== undefined ? { reason } : {}), ...(hint !== undefined ? { hint } : {}) };
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
