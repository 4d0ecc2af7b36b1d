// The CLI's family bundles run through V8's code cache: the first run writes it, later runs
// use it, and a cache V8 refuses or a place that cannot take it never fails the command.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheFilesFor, runCommonJsCached } from '../../../cli/code-cache.js';

const BUNDLE = `'use strict';
const { basename } = require('node:path');
function greet(name) { return 'hello ' + name + ' from ' + basename(__filename); }
module.exports = { greet, dir: __dirname };
`;

describe('runCommonJsCached', () => {
  let dir: string;
  let bundle: string;
  let cache: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-code-cache-'));
    bundle = join(dir, 'family-x-ABC.cjs');
    cache = join(dir, 'cache', 'x.v8-cache');
    writeFileSync(bundle, BUNDLE);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the file as CommonJS, writes the cache after the run and uses it the next time', () => {
    const first = runCommonJsCached(bundle, [cache]);
    const api = first.exports as { greet(n: string): string; dir: string };
    expect(api.greet('you')).toBe('hello you from family-x-ABC.cjs');
    expect(api.dir).toBe(dir);
    expect(first.cache).toBe('miss');
    expect(existsSync(cache)).toBe(false);
    first.save();
    expect(readFileSync(cache).length).toBeGreaterThan(0);

    const second = runCommonJsCached(bundle, [cache]);
    expect(second.cache).toBe('hit');
    expect((second.exports as { greet(n: string): string }).greet('again')).toBe(
      'hello again from family-x-ABC.cjs',
    );
  });

  it('reads a bundle that is not ASCII as UTF-8', () => {
    writeFileSync(bundle, "module.exports = { word: 'café → ok' };\n");
    expect((runCommonJsCached(bundle, [cache]).exports as { word: string }).word).toBe('café → ok');
  });

  it('compiles afresh and rewrites a cache V8 refuses', () => {
    mkdirSync(join(dir, 'cache'));
    writeFileSync(cache, 'not a code cache');
    const run = runCommonJsCached(bundle, [cache]);
    expect(run.cache).toBe('rejected');
    expect((run.exports as { greet(n: string): string }).greet('x')).toContain('hello x');
    run.save();
    expect(runCommonJsCached(bundle, [cache]).cache).toBe('hit');
  });

  it('compiles past a damaged cache (V8 checks no checksum of its own) and rewrites it', () => {
    runCommonJsCached(bundle, [cache]).save();
    const whole = readFileSync(cache);
    // one bit flipped in V8's data, past the header: same length, same V8 header
    const damaged = Buffer.from(whole);
    const at = damaged.length - 100;
    damaged[at] = (damaged[at] ?? 0) ^ 0x10;
    writeFileSync(cache, damaged);
    const run = runCommonJsCached(bundle, [cache]);
    expect(run.cache).toBe('rejected');
    expect((run.exports as { greet(n: string): string }).greet('y')).toContain('hello y');
    run.save();
    expect(readFileSync(cache).equals(damaged)).toBe(false);
    expect(runCommonJsCached(bundle, [cache]).cache).toBe('hit');
    // cut short
    writeFileSync(cache, whole.subarray(0, whole.length - 1));
    expect(runCommonJsCached(bundle, [cache]).cache).toBe('rejected');
  });

  it('writes to the next place when the first cannot take it, and fails nothing when none can', () => {
    const second = join(dir, 'rw', 'x.v8-cache');
    // root writes anyway: a path under a regular file cannot be a directory for anyone.
    const blocked = join(bundle, 'cache', 'x.v8-cache');
    runCommonJsCached(bundle, [blocked, second]).save();
    expect(existsSync(second)).toBe(true);
    expect(runCommonJsCached(bundle, [blocked, second]).cache).toBe('hit');

    const nowhere = runCommonJsCached(bundle, [blocked]);
    expect(() => nowhere.save()).not.toThrow();
    expect(runCommonJsCached(bundle, [blocked]).cache).toBe('miss');
  });

  it("removes the caches of the family's other builds where it writes, and no other family's", () => {
    // The user's cache directory, as cacheFilesFor names it.
    const here = cacheFilesFor(bundle, { XDG_CACHE_HOME: join(dir, 'user') })[1] ?? '';
    const caches = dirname(here);
    mkdirSync(caches, { recursive: true });
    const v = `${process.version}-${process.arch}`;
    const older = join(caches, `family-x-OLD1.cjs-${v}.v8-cache`);
    const otherNode = join(caches, 'family-x-ABC.cjs-v18.0.0-x64.v8-cache');
    const otherFamily = join(caches, `family-x-y-OLD2.cjs-${v}.v8-cache`);
    const notOurs = join(caches, 'notes.txt');
    for (const f of [older, otherNode, otherFamily, notOurs]) writeFileSync(f, 'x');
    runCommonJsCached(bundle, [here]).save();
    expect(existsSync(here)).toBe(true);
    expect(existsSync(older)).toBe(false);
    expect(existsSync(otherNode)).toBe(false);
    expect(existsSync(otherFamily)).toBe(true);
    expect(existsSync(notOurs)).toBe(true);
  });

  it('keeps the cache beside the bundle, else in the user cache directory, per Node version', () => {
    const [beside, user] = cacheFilesFor('/opt/skiff/dist/skiff/family-service-H.cjs', {
      XDG_CACHE_HOME: '/home/u/.cache',
    });
    const name = `family-service-H.cjs-${process.version}-${process.arch}.v8-cache`;
    expect(beside).toBe(`/opt/skiff/dist/skiff/code-cache/${name}`);
    expect(user).toBe(`/home/u/.cache/skiff/code-cache/${name}`);
  });

  it("keeps a cache of its own for `daemon run`, which the family's other builds' go with", () => {
    const [run] = cacheFilesFor('/d/family-daemon-H.cjs', {}, 'run');
    const [plain] = cacheFilesFor('/d/family-daemon-H.cjs', {});
    expect(run).toBe(`/d/code-cache/family-daemon-H.cjs-run-${process.version}-${process.arch}.v8-cache`);
    expect(plain).not.toBe(run);

    const v = `${process.version}-${process.arch}`;
    const caches = join(dir, 'caches');
    mkdirSync(caches);
    const sameBuildRun = join(caches, `family-x-ABC.cjs-run-${v}.v8-cache`);
    const olderRun = join(caches, `family-x-OLD1.cjs-run-${v}.v8-cache`);
    const otherNodeRun = join(caches, 'family-x-ABC.cjs-run-v18.0.0-x64.v8-cache');
    for (const f of [sameBuildRun, olderRun, otherNodeRun]) writeFileSync(f, 'x');
    const here = join(caches, `family-x-ABC.cjs-${v}.v8-cache`);
    runCommonJsCached(bundle, [here]).save();
    expect(existsSync(here)).toBe(true);
    expect(existsSync(sameBuildRun)).toBe(true);
    expect(existsSync(olderRun)).toBe(false);
    expect(existsSync(otherNodeRun)).toBe(false);
    // and the other way round
    rmSync(sameBuildRun);
    runCommonJsCached(bundle, [sameBuildRun]).save();
    expect(existsSync(here)).toBe(true);
  });
});
