// The start of the bundled `skiff` command (dist/skiff/main.js, built by
// scripts/bundle-cli.mjs): a CommonJS file, so that a command pays for no ES module loader.
// Every command family has a CommonJS bundle of its own, which runs through V8's code
// cache (code-cache.ts): a short command's time is mostly Node's start and compiling the
// CLI's code, and so is a node's start (`daemon run`). Help and completion (every family)
// load the ES module bundle.
import { join } from 'node:path';
import { cacheFilesFor, runCommonJsCached } from './code-cache.js';
import { familyOf, subcommandOf } from './family.js';

type RunCli = (argv: string[]) => Promise<number>;

interface FamilyBundle {
  runCli: RunCli;
  /** cli/started.ts: a long-running command's start is done. */
  onStarted?: (fn: () => void) => void;
}

/**
 * How long after a node's start its code cache is written: the functions its first
 * requests compile (a `compose up` right after the start) are in it too.
 */
const SAVE_AFTER_START_MS = 2000;

/**
 * Runs the command line of this process: with `bundles[family]` (a file in `dir`) when its
 * family has one, else through `loadAll` (the ES module bundle, which runs the command itself).
 */
export function launch(
  bundles: Readonly<Record<string, string>>,
  dir: string,
  loadAll: () => Promise<unknown>,
): void {
  const argv = process.argv.slice(2);
  const family = familyOf(argv);
  const own = bundles[family ?? ''];
  if (!own) {
    void loadAll();
    return;
  }
  const bundle = join(dir, own);
  // `daemon run` compiles a node, `daemon status` next to nothing: a cache of its own for the node.
  const use = family === 'daemon' && subcommandOf(argv) === 'run' ? 'run' : undefined;
  const run = runCommonJsCached(bundle, cacheFilesFor(bundle, process.env, use));
  const { runCli, onStarted } = run.exports as FamilyBundle;
  if (use === 'run') {
    // A node's cache is written once it serves (soon after: a node may run for weeks and
    // need not exit cleanly; at its exit if that is sooner), never by a run that failed or
    // printed its help: that cache would serve every later start.
    onStarted?.(() => {
      setTimeout(run.save, SAVE_AFTER_START_MS).unref();
      process.once('exit', run.save);
    });
  } else {
    // After the command's work, so that the functions it compiled lazily are in it.
    process.once('exit', run.save);
  }
  void runCli(argv).then((code) => {
    process.exitCode = code;
  });
}
