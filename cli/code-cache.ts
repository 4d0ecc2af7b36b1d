// Runs a CommonJS bundle through V8's code cache: a command's start is mostly compiling the
// bundle's code, and the cache (the bytecode of every function the first run compiled)
// lets later runs skip parsing and compiling it. Node 20 has no module compile cache of its
// own (module.enableCompileCache is Node 22), and the cache works only for scripts, hence
// CommonJS (scripts/bundle-cli.mjs builds one such bundle per command family).
//
// The cache is a file written after the first run (so that the functions compiled lazily
// during the run are in it too) and again when V8 rejects it (another Node or V8 flags).
// Its name carries the bundle's name, which carries a hash of its content (V8 checks only
// the source's length), the Node version and, for `daemon run`, that use: the daemon's
// bundle serves short commands too (`daemon status`), and a cache holds what its first run
// compiled. It sits beside the bundle, or under the user's cache directory where the
// bundle's is not writable. It is written whole or not at all (a rename); V8 checks no
// checksum of a cache outside debug builds, so the file carries a CRC-32 of its own and a
// damaged one is compiled past and rewritten like one V8 refuses. Writing it never fails a
// command. Writing a family's cache removes that family's caches of other bundles (an older
// skiff, another Node) from the same directory: the user's cache directory outlives every
// install.
import { isAscii } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

export type CacheUse = 'hit' | 'miss' | 'rejected';

export interface CachedRun {
  /** The bundle's `module.exports`. */
  exports: unknown;
  cache: CacheUse;
  /** Writes the cache when it was missing or rejected: call it once the run's work is done. */
  save(): void;
}

/**
 * Where the cache of `bundle` may be, in order: beside it, then in the user's cache
 * directory; `use` names the run when the bundle serves several (`daemon run`).
 */
export function cacheFilesFor(bundle: string, env: NodeJS.ProcessEnv = process.env, use?: 'run'): string[] {
  const name = `${basename(bundle)}${use ? `-${use}` : ''}-${process.version}-${process.arch}.v8-cache`;
  const userCache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [join(dirname(bundle), 'code-cache', name), join(userCache, 'skiff', 'code-cache', name)];
}

/** The start of a cache file: a mark of this format, then the CRC-32 of V8's data after it. */
const MAGIC = Buffer.from('skc1');
const HEADER_BYTES = MAGIC.length + 4;

function sealed(data: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header);
  header.writeUInt32LE(crc32(data), MAGIC.length);
  return Buffer.concat([header, data]);
}

/** V8's data of a cache file, or undefined when the file is not whole. */
function unsealed(file: Buffer): Buffer | undefined {
  if (file.length <= HEADER_BYTES || !file.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const data = file.subarray(HEADER_BYTES);
  return crc32(data) === file.readUInt32LE(MAGIC.length) ? data : undefined;
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

/**
 * `family-<name>-<hash>.cjs[-run]-<node>-<arch>.v8-cache`: its family part (before the hash)
 * and its build (the hash, Node and arch), else undefined.
 */
function cacheKey(cacheName: string): { family: string; build: string } | undefined {
  const m = /^(.+-)([A-Za-z0-9]+)\.cjs-(?:run-)?(v[^/]+)\.v8-cache$/.exec(cacheName);
  return m ? { family: m[1] ?? '', build: `${m[2]}-${m[3]}` } : undefined;
}

/**
 * Removes the caches of the same family's other bundles beside `file` (those of other uses
 * of the same bundle stay); best effort.
 */
function removeOtherBuilds(file: string): void {
  const name = basename(file);
  const key = cacheKey(name);
  if (key === undefined) return;
  const dir = dirname(file);
  try {
    for (const other of readdirSync(dir)) {
      const k = other === name ? undefined : cacheKey(other);
      if (k?.family === key.family && k.build !== key.build) rmSync(join(dir, other), { force: true });
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
  const bytes = readFileSync(bundle);
  // The bundles are ASCII (scripts/bundle-cli.mjs escapes the rest): as latin1 they become
  // a string in one copy, where UTF-8 decoding takes twice as long (~7 ms for the daemon's).
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const file = readFirst(cacheFiles);
  const cachedData = file && unsealed(file);
  // Node's own CommonJS wrapper, so that the bundle sees what a required file sees.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  const cache: CacheUse =
    file === undefined ? 'miss' : cachedData === undefined || script.cachedDataRejected ? 'rejected' : 'hit';
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
        writeFirst(cacheFiles, sealed(script.createCachedData()));
      } catch {
        // no cache this time: the next run compiles again
      }
    },
  };
}
