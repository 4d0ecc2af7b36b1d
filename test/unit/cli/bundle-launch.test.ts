// The built bundle's main.js (scripts/bundle-cli.mjs, cli/launch.ts): a family's command line
// runs that family's CommonJS bundle through V8's code cache (the daemon's too, with a cache
// of its own for `daemon run`); help and completion run the ES module bundle.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BUNDLE = resolve(import.meta.dirname, '../../../dist/skiff');
const skiff = (...args: string[]) =>
  execFileSync(process.execPath, [join(BUNDLE, 'main.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, SKIFF_HOST: 'unix:///nonexistent/skiff.sock' },
  });

describe('the bundled skiff command', () => {
  it('runs a family from its own bundle and keeps its code cache beside it', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(skiff('version').trim()).toMatch(new RegExp(`^skiff ${pkg.version.replaceAll('.', '\\.')} `));
    const version = readdirSync(BUNDLE).find((f) => /^family-version-\w+\.cjs$/.test(f) && skiffUses(f));
    expect(version).toBeDefined();
    const cache = `${version}-${process.version}-${process.arch}.v8-cache`;
    expect(readdirSync(join(BUNDLE, 'code-cache'))).toContain(cache);
    // the cached run answers the same
    expect(skiff('version', '--format', 'json')).toContain(`"Version":"${pkg.version}"`);
  });

  it("runs the daemon's family from its own bundle, with a cache of its own for daemon run", () => {
    expect(skiff('daemon', '--help')).toContain('Usage: skiff daemon');
    const daemon = readdirSync(BUNDLE).find((f) => /^family-daemon-\w+\.cjs$/.test(f) && skiffUses(f));
    expect(daemon).toBeDefined();
    expect(readdirSync(join(BUNDLE, 'code-cache'))).toContain(
      `${daemon}-${process.version}-${process.arch}.v8-cache`,
    );
    // `daemon run` writes its own once a node is ready: a help run's would serve every start
    const runCache = join(BUNDLE, 'code-cache', `${daemon}-run-${process.version}-${process.arch}.v8-cache`);
    rmSync(runCache, { force: true });
    expect(skiff('daemon', 'run', '--help')).toContain('Usage: skiff daemon run');
    expect(existsSync(runCache)).toBe(false);
  });

  it('runs help and completion from the ES module bundle', () => {
    const help = skiff('--help');
    for (const family of ['service', 'compose', 'stack', 'daemon']) expect(help).toContain(family);
    expect(skiff('completion', 'bash')).toContain('_skiff');
  });

  it("gives a family's own help from its bundle", () => {
    const help = skiff('service', '--help');
    expect(help).toContain('Usage: skiff service');
    expect(help).toContain('ls');
  });
});

/** Whether main.js names `file` (older builds' bundles stay beside it). */
function skiffUses(file: string): boolean {
  return readFileSync(join(BUNDLE, 'main.js'), 'utf8').includes(`"${file}"`);
}
