// A content-addressed blob store: `content/blobs/sha256/<hex>`. Downloads go to
// `content/ingest/<hex>` and are renamed into place only after size and digest match, so
// a corrupt or truncated download never lands; an interrupted one resumes from its
// partial file (re-hashing what is there, then asking for the rest with Range).
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkiffError } from '../../lib/index.js';
import { digestHex, sha256 } from './digest.js';
import type { LiveBlob } from './live-blob.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const READ_CHUNK = 1 << 20;
const BATCH = 1 << 20;

export interface IngestSource {
  /** Opens the blob from `offset`; returns the body and the offset it really starts at. */
  open(offset: number): Promise<{ body: Readable; offset: number }>;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
  }

  path(digest: string): string {
    checkDigest(digest);
    return join(this.blobsDir, digestHex(digest));
  }

  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new SkiffError('not_found', `blob ${digest} is not in the content store`, {
          hint: 'pull the image again',
        });
      }
      throw e;
    }
  }

  /**
   * A blob from `start`, in 1 MiB reads: blobs are read whole and in order (unpack of a
   * stored blob, push), and against the default 64 KiB that halves the CPU of reading and
   * gunzipping a layer.
   */
  createReadStream(digest: string, start = 0): Readable {
    return createReadStream(this.path(digest), { start, highWaterMark: READ_CHUNK });
  }

  /** Stores bytes already in memory; checks them against `digest` when given. */
  async writeBuffer(data: Buffer, expected?: string): Promise<string> {
    const digest = sha256(data);
    if (expected && expected !== digest) throw mismatch(expected, digest);
    if (await this.has(digest)) return digest;
    const tmp = join(this.ingestDir, `buf-${randomBytes(6).toString('hex')}`);
    await writeFile(tmp, data);
    await rename(tmp, this.path(digest));
    return digest;
  }

  /**
   * Downloads a blob unless present. `onBytes` gets the count of bytes held so far
   * (including resumed ones). Fails with `corrupt` naming the digest on mismatch, and
   * removes the partial file then. `tap` gets the bytes as they arrive (unverified), when
   * this download reads the blob from its first byte; it is ended or abandoned by return.
   */
  async ingest(
    digest: string,
    size: number,
    source: IngestSource,
    onBytes?: (have: number) => void,
    tap?: LiveBlob,
  ): Promise<void> {
    try {
      checkDigest(digest);
      if ((await this.size(digest)) === size) return;
      const release = await this.lock(digest);
      try {
        // Another process may have finished it while we waited for its lock.
        if ((await this.size(digest)) === size) return;
        await this.ingestLocked(digest, size, source, onBytes, tap);
      } finally {
        await release();
      }
    } finally {
      // Whatever did not feed it to its last byte (stored already, a failure) ends it here.
      tap?.abandon('the blob did not come from this download');
    }
  }

  /**
   * One writer per partial file, across processes (the CLI and a daemon may share a
   * root): `ingest/<hex>.lock` holds the owner's pid; a lock whose process is gone (a
   * pull killed with SIGKILL) is taken over.
   */
  private async lock(digest: string): Promise<() => Promise<void>> {
    const path = join(this.ingestDir, `${digestHex(digest)}.lock`);
    const token = `${process.pid} ${randomBytes(6).toString('hex')}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await writeFile(path, token, { flag: 'wx' });
        return async () => {
          if ((await readFile(path, 'utf8').catch(() => '')) === token) await rm(path, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = await readFile(path, 'utf8').catch(() => '');
      const pid = Number(owner.split(' ')[0]);
      if (owner !== '' && !processAlive(pid)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new SkiffError('timeout', `blob ${digest} is being downloaded by process ${pid} for too long`, {
          hint: `if that process is stuck, stop it or remove ${path}`,
        });
      }
      await sleep(100);
    }
  }

  private async ingestLocked(
    digest: string,
    size: number,
    source: IngestSource,
    onBytes?: (have: number) => void,
    tap?: LiveBlob,
  ): Promise<void> {
    const partial = join(this.ingestDir, digestHex(digest));
    const hash = createHash('sha256');
    let have = 0;
    try {
      have = (await stat(partial)).size;
    } catch {
      have = 0;
    }
    if (have > size) {
      await truncate(partial, 0);
      have = 0;
    }
    if (have > 0) {
      // The live copy starts at the first byte: a resumed download leaves it to the store.
      tap?.abandon('the download resumed from an earlier partial one');
      await pipeline(
        createReadStream(partial, { end: have - 1 }),
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            cb();
          },
        }),
      );
      onBytes?.(have);
    }
    if (have < size) {
      const { body, offset } = await source.open(have);
      if (offset !== have) {
        // The server ignored Range: start over.
        await truncate(partial, 0).catch(() => undefined);
        return this.restart(digest, size, partial, body, onBytes);
      }
      have = await this.append(partial, have, size, body, hash, digest, onBytes, tap);
    }
    await this.commit(digest, size, partial, have, hash.digest('hex'));
  }

  private async restart(
    digest: string,
    size: number,
    partial: string,
    body: Readable,
    onBytes?: (have: number) => void,
  ): Promise<void> {
    const hash = createHash('sha256');
    const have = await this.append(partial, 0, size, body, hash, digest, onBytes);
    await this.commit(digest, size, partial, have, hash.digest('hex'));
  }

  private async append(
    partial: string,
    start: number,
    size: number,
    body: Readable,
    hash: ReturnType<typeof createHash>,
    digest: string,
    onBytes?: (have: number) => void,
    tap?: LiveBlob,
  ): Promise<number> {
    let have = start;
    // Writes overlap with reading (up to 1 MiB queued); whatever was received is flushed
    // before this returns or throws, so an interrupted download resumes from there.
    const out = createWriteStream(partial, { flags: start > 0 ? 'a' : 'w', highWaterMark: 1 << 20 });
    const flush = () => new Promise<void>((resolve) => out.end(() => resolve()));
    // A TLS body arrives in 16 KiB pieces: hashed, written and handed on in 1 MiB ones, a
    // sixtieth of the calls (each write, and each piece a gunzip takes, is a thread-pool job).
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const pass = async () => {
      if (pendingBytes === 0) return;
      const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      hash.update(batch);
      have += batch.length;
      const written = out.write(batch);
      const paced = tap?.push(batch);
      if (!written) await once(out, 'drain');
      if (paced) await paced;
      onBytes?.(have);
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (have + pendingBytes + chunk.length > size) {
          body.destroy();
          await pass();
          await flush();
          await rm(partial, { force: true });
          throw new SkiffError(
            'corrupt',
            `digest mismatch for blob ${digest}: the registry sent more than the expected ${size} bytes`,
          );
        }
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= BATCH) await pass();
      }
      await pass();
    } catch (e) {
      tap?.abandon('the download was interrupted');
      if (!(e instanceof SkiffError)) await pass().catch(() => undefined);
      await flush();
      if (e instanceof SkiffError) throw e;
      throw new SkiffError(
        'unavailable',
        `download of blob ${digest} was interrupted at ${have} of ${size} bytes: ${(e as Error).message}`,
        { cause: e, hint: 'pull again: the download resumes where it stopped' },
      );
    }
    await flush();
    if (out.errored) {
      tap?.abandon('writing it failed');
      throw new SkiffError('internal', `writing blob ${digest} to ${partial} failed: ${out.errored.message}`);
    }
    tap?.end();
    return have;
  }

  private async commit(
    digest: string,
    size: number,
    partial: string,
    have: number,
    hex: string,
  ): Promise<void> {
    const got = `sha256:${hex}`;
    if (have !== size || got !== digest) {
      await rm(partial, { force: true });
      if (have !== size) {
        throw new SkiffError(
          'corrupt',
          `digest mismatch for blob ${digest}: expected ${size} bytes, got ${have}`,
        );
      }
      throw mismatch(digest, got);
    }
    // No fsync: a blob is verified again (its diff ID) when unpacked, and a torn blob after
    // a power loss is then detected and re-pulled; syncing every layer costs seconds.
    await rename(partial, this.path(digest));
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.blobsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Removes partial downloads (after a GC decided nothing is pulling). */
  async clearIngest(): Promise<number> {
    const names = await readdir(this.ingestDir).catch(() => [] as string[]);
    let freed = 0;
    for (const n of names) {
      const hex = n.replace(/\.lock$/, '');
      const owner = await readFile(join(this.ingestDir, `${hex}.lock`), 'utf8').catch(() => '');
      if (owner !== '' && processAlive(Number(owner.split(' ')[0]))) continue; // being downloaded
      const p = join(this.ingestDir, n);
      freed += (await stat(p).catch(() => ({ size: 0 }))).size;
      await rm(p, { force: true });
    }
    return freed;
  }

  /** Verifies a stored blob's digest (for inspect --verify and tests). */
  async verify(digest: string): Promise<boolean> {
    const hash = createHash('sha256');
    const fh = await open(this.path(digest), 'r');
    try {
      for await (const chunk of fh.createReadStream()) hash.update(chunk as Buffer);
    } finally {
      await fh.close().catch(() => undefined);
    }
    return `sha256:${hash.digest('hex')}` === digest;
  }
}

const LOCK_WAIT_MS = 30 * 60_000;

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkDigest(digest: string): void {
  if (!DIGEST.test(digest)) throw new SkiffError('invalid_argument', `'${digest}' is not a sha256 digest`);
}

export function mismatch(expected: string, got: string): SkiffError {
  return new SkiffError('corrupt', `digest mismatch for blob ${expected}: expected ${expected}, got ${got}`, {
    hint: 'the registry (or something between it and this node) served bad data; nothing was stored',
  });
}
