import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore, sha256 } from '../../../agent/image/index.js';
import { waitFor } from '../../lab/index.js';

const data = Buffer.from('x'.repeat(100_000) + 'end');
const digest = sha256(data);

/** A source serving `bytes`, honouring Range unless told not to; records offsets asked for. */
function source(bytes: Buffer, opts: { ignoreRange?: boolean; failAt?: number } = {}) {
  const asked: number[] = [];
  return {
    asked,
    open: async (offset: number) => {
      asked.push(offset);
      const start = opts.ignoreRange ? 0 : offset;
      let body = bytes.subarray(start);
      if (opts.failAt !== undefined) {
        const cut = body.subarray(0, opts.failAt - start);
        const failing = async function* () {
          yield Buffer.from(cut);
          throw new Error('connection reset');
        };
        return { body: Readable.from(failing()), offset: start };
      }
      body = Buffer.from(body);
      return { body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), offset: start };
    },
  };
}

describe('ContentStore', () => {
  let dir: string;
  let store: ContentStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-content-'));
    store = new ContentStore(dir);
    await store.init();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores a verified blob under its digest', async () => {
    const seen: number[] = [];
    await store.ingest(digest, data.length, source(data), (n) => seen.push(n));
    expect(await readFile(store.path(digest))).toEqual(data);
    expect(seen.at(-1)).toBe(data.length);
    expect(await readdir(store.ingestDir)).toEqual([]);
    expect(await store.verify(digest)).toBe(true);
  });

  it('refuses bytes that do not match the digest, naming it, and keeps nothing', async () => {
    const bad = Buffer.from(data);
    bad[5] = 0x79;
    await expect(store.ingest(digest, data.length, source(bad))).rejects.toThrow(
      `digest mismatch for blob ${digest}: expected ${digest}, got ${sha256(bad)}`,
    );
    expect(await store.has(digest)).toBe(false);
    expect(await readdir(store.ingestDir)).toEqual([]);
  });

  it('refuses a blob longer or shorter than its descriptor says', async () => {
    await expect(store.ingest(digest, data.length - 1, source(data))).rejects.toThrow(
      /more than the expected/,
    );
    await expect(store.ingest(digest, data.length + 1, source(data))).rejects.toThrow(
      /expected 100004 bytes, got 100003/,
    );
    expect(await store.list()).toEqual([]);
  });

  it('resumes an interrupted download with a Range request', async () => {
    await expect(store.ingest(digest, data.length, source(data, { failAt: 40_000 }))).rejects.toThrow(
      /interrupted/,
    );
    expect(await store.has(digest)).toBe(false);
    const partial = await readFile(join(store.ingestDir, digest.slice(7)));
    expect(partial.length).toBe(40_000);
    const second = source(data);
    await store.ingest(digest, data.length, second);
    expect(second.asked).toEqual([40_000]);
    expect(await readFile(store.path(digest))).toEqual(data);
  });

  it('starts over when the server ignores Range', async () => {
    await writeFile(join(store.ingestDir, digest.slice(7)), data.subarray(0, 500));
    const s = source(data, { ignoreRange: true });
    await store.ingest(digest, data.length, s);
    expect(s.asked).toEqual([500]);
    expect(await store.verify(digest)).toBe(true);
  });

  it('drops a partial file whose bytes are wrong and fails the next pull cleanly', async () => {
    await writeFile(join(store.ingestDir, digest.slice(7)), Buffer.alloc(500, 1));
    await expect(store.ingest(digest, data.length, source(data))).rejects.toThrow(/digest mismatch/);
    await store.ingest(digest, data.length, source(data));
    expect(await store.verify(digest)).toBe(true);
  });

  it('refuses what is not a sha256 digest', async () => {
    expect(() => store.path('sha256:../../etc')).toThrow(/not a sha256 digest/);
    await expect(store.writeBuffer(Buffer.from('a'), sha256('b'))).rejects.toThrow(/digest mismatch/);
  });

  it('lets one writer download a blob while another waits for it, across store instances', async () => {
    const other = new ContentStore(dir);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = {
      asked: [] as number[],
      open: async (offset: number) => {
        slow.asked.push(offset);
        const body = async function* () {
          yield data.subarray(0, 10);
          await gate;
          yield data.subarray(10);
        };
        return { body: Readable.from(body()), offset };
      },
    };
    const second = source(data);
    const first = store.ingest(digest, data.length, slow);
    await waitFor(async () => (await readdir(store.ingestDir)).some((n) => n.endsWith('.lock')), {
      what: 'the first ingest to take the lock',
      timeoutMs: 5000,
      intervalMs: 5,
    });
    const waiting = other.ingest(digest, data.length, second);
    release();
    await Promise.all([first, waiting]);
    expect(slow.asked).toEqual([0]);
    expect(second.asked).toEqual([]);
    expect(await store.verify(digest)).toBe(true);
    expect(await readdir(store.ingestDir)).toEqual([]);
  });

  it('takes over the lock of a process that died (SIGKILL mid-pull)', async () => {
    const pid = 2 ** 31 - 1; // above any pid_max: no such process
    await writeFile(join(store.ingestDir, `${digest.slice(7)}.lock`), `${pid} abc`);
    await store.ingest(digest, data.length, source(data));
    expect(await store.verify(digest)).toBe(true);
    expect(await readdir(store.ingestDir)).toEqual([]);
  });
});
