// The start of the bundled `skiff` command (dist/skiff/main.js, built by
// scripts/bundle-cli.mjs): a CommonJS file, so that a command pays for no ES module loader.
// Most command families have a CommonJS bundle of their own, which runs through V8's code
// cache (code-cache.ts): a short command's time is mostly Node's start and compiling the
// CLI's code. The daemon, help and completion (every family) load the ES module bundle.
import { join } from 'node:path';
import { runCommonJsCached } from './code-cache.js';
import { familyOf } from './family.js';

type RunCli = (argv: string[]) => Promise<number>;

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
  const own = bundles[familyOf(argv) ?? ''];
  if (!own) {
    void loadAll();
    return;
  }
  const run = runCommonJsCached(join(dir, own));
  // After the command's work, so that the functions it compiled lazily are cached too.
  process.once('exit', run.save);
  void (run.exports as { runCli: RunCli }).runCli(argv).then((code) => {
    process.exitCode = code;
  });
}
