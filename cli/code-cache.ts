// Runs a CommonJS bundle through V8's code cache: a command's start is mostly compiling the
// bundle's code, and the cache (the bytecode of every function the first run compiled)
// lets later runs skip parsing and compiling it. Node 20 has no module compile cache of its
// own (module.enableCompileCache is Node 22), and the cache works only for scripts, hence
// CommonJS (scripts/bundle-cli.mjs builds one such bundle per command family).
//
// The cache is a file written after the first run (so that the functions compiled lazily
// during the run are in it too) and again when V8 rejects it (another Node or V8 flags).
// Its name carries the bundle's name, which carries a hash of its content (V8 checks only
// the source's length), and the Node version. It sits beside the bundle, or under the
// user's cache directory where the bundle's is not writable. Writing it never fails a command.
// Writing a family's cache removes that family's caches of other bundles (an older skiff,
// another Node) from the same directory: the user's cache directory outlives every install.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

export type CacheUse = 'hit' | 'miss' | 'rejected';

export interface CachedRun {
  /** The bundle's `module.exports`. */
  exports: unknown;
  cache: CacheUse;
  /** Writes the cache when it was missing or rejected: call it once the run's work is done. */
  save(): void;
}

/** Where the cache of `bundle` may be, in order: beside it, then in the user's cache directory. */
export function cacheFilesFor(bundle: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const name = `${basename(bundle)}-${process.version}-${process.arch}.v8-cache`;
  const userCache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [join(dirname(bundle), 'code-cache', name), join(userCache, 'skiff', 'code-cache', name)];
}

function readFirst(files: readonly string[]): Buffer | undefined {
  for (const f of files) {
    try {
      return readFileSync(f);
    } catch {
      // not there (or unreadable): the next place, else no cache
    }
  }
  return undefined;
}

/** `family-<name>-<hash>.cjs-<node>-<arch>.v8-cache`: the part before the hash, else undefined. */
function familyPrefix(cacheName: string): string | undefined {
  return /^(.+-)[A-Za-z0-9]+\.cjs-[^/]+\.v8-cache$/.exec(cacheName)?.[1];
}

/** Removes the caches of the same family's other bundles beside `file`; best effort. */
function removeOtherBuilds(file: string): void {
  const name = basename(file);
  const prefix = familyPrefix(name);
  if (prefix === undefined) return;
  const dir = dirname(file);
  try {
    for (const other of readdirSync(dir)) {
      if (other !== name && familyPrefix(other) === prefix) rmSync(join(dir, other), { force: true });
    }
  } catch {
    // left for the next write to try again
  }
}

/** Writes `data` to the first place that takes it, whole or not at all (rename). */
function writeFirst(files: readonly string[], data: Buffer): void {
  for (const f of files) {
    const tmp = `${f}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(tmp, data);
      renameSync(tmp, f);
      removeOtherBuilds(f);
      return;
    } catch {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // no such directory either: nothing was written
      }
    }
  }
}

/** Runs the CommonJS file `bundle` as node's loader would, with V8's code cache from `cacheFiles`. */
export function runCommonJsCached(
  bundle: string,
  cacheFiles: readonly string[] = cacheFilesFor(bundle),
): CachedRun {
  const source = readFileSync(bundle, 'utf8');
  const cachedData = readFirst(cacheFiles);
  // Node's own CommonJS wrapper, so that the bundle sees what a required file sees.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  const cache: CacheUse = cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  let saved = cache === 'hit';
  return {
    exports: module.exports,
    cache,
    save() {
      if (saved) return;
      saved = true;
      try {
        writeFirst(cacheFiles, script.createCachedData());
      } catch {
        // no cache this time: the next run compiles again
      }
    },
  };
}
