// Named endpoints the CLI switches between, as `docker context` does: a context is a
// manager's address and the client certificates to reach it. They live in one 0600
// file, `contexts.json`, in the user's skiff directory ($SKIFF_CONFIG, else ~/.skiff,
// where the default client certificates already live); the certificates' PEM text is
// copied in at creation, as docker copies them, so moving the files later breaks nothing.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { privateDirSync, writeFileDurableSync } from '../disk/index.js';
import { SkiffError } from '../lib/index.js';

/** The built-in context: SKIFF_HOST, else the local node's socket. */
export const DEFAULT_CONTEXT = 'default';

export interface ContextTls {
  ca: string;
  cert?: string;
  key?: string;
}

export interface StoredContext {
  Description?: string;
  Host: string;
  /** PEM text, for a manager on tcp://. */
  TLS?: ContextTls;
}

export interface ContextFile {
  /** Set by `context use`; absent means the default context. */
  current?: string;
  contexts: Record<string, StoredContext>;
}

/** $SKIFF_CONFIG, else ~/.skiff. */
export function configDir(): string {
  return process.env.SKIFF_CONFIG || join(homedir(), '.skiff');
}

export function contextFilePath(): string {
  return join(configDir(), 'contexts.json');
}

export function readContexts(): ContextFile {
  const path = contextFilePath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new SkiffError('invalid_argument', `cannot read ${path}: ${(e as Error).message}`, {
      hint: 'check the file and its permissions',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SkiffError('invalid_argument', `${path} is not valid JSON`, {
      hint: 'fix or remove the file (skiff context create writes it)',
    });
  }
  const f = parsed as Partial<ContextFile>;
  if (typeof f !== 'object' || f === null || typeof f.contexts !== 'object' || f.contexts === null)
    throw new SkiffError('invalid_argument', `${path} has no "contexts" object`, {
      hint: 'fix or remove the file (skiff context create writes it)',
    });
  for (const [name, c] of Object.entries(f.contexts)) {
    if (typeof c?.Host !== 'string')
      throw new SkiffError('invalid_argument', `${path}: context "${name}" has no Host`, {
        hint: `remove it with skiff context rm ${name}`,
      });
  }
  return { contexts: f.contexts, ...(typeof f.current === 'string' ? { current: f.current } : {}) };
}

/** Replaces the file atomically and durably, 0600 in a 0700 directory (it holds client keys). */
export function writeContexts(f: ContextFile): void {
  privateDirSync(configDir());
  writeFileDurableSync(contextFilePath(), `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 });
}

/** docker's rule for a context name: a letter or digit first, then letters, digits, `.`, `_`, `+`, `-`. */
export function checkContextName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/.test(name))
    throw new SkiffError('invalid_argument', `context name "${name}" is invalid`, {
      hint: 'names start with a letter or digit, then letters, digits, ".", "_", "+" or "-"',
    });
  if (name === DEFAULT_CONTEXT)
    throw new SkiffError('invalid_argument', `"${DEFAULT_CONTEXT}" is a reserved context name`, {
      hint: 'the default context is SKIFF_HOST or the local node; pick another name',
    });
}

/**
 * The context a command uses, as docker picks it: --context, else the default when
 * --host or SKIFF_HOST is given, else SKIFF_CONTEXT, else the one `context use` chose.
 */
export function currentContextName(
  opts: { context?: string; host?: string },
  file?: () => ContextFile,
): string {
  if (opts.context) return opts.context;
  if (opts.host || process.env.SKIFF_HOST) return DEFAULT_CONTEXT;
  if (process.env.SKIFF_CONTEXT) return process.env.SKIFF_CONTEXT;
  return (file ?? readContexts)().current ?? DEFAULT_CONTEXT;
}

/** A named context, refused clearly when there is none by that name. */
export function findContext(name: string, f: ContextFile = readContexts()): StoredContext {
  const c = Object.hasOwn(f.contexts, name) ? f.contexts[name] : undefined;
  if (!c)
    throw new SkiffError('not_found', `context "${name}" does not exist`, {
      hint: 'skiff context ls lists them; skiff context create makes one',
    });
  return c;
}
