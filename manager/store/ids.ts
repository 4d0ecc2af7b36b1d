import { randomBytes } from 'node:crypto';

/** A new object ID as Docker makes them: 128 random bits in lowercase base36, 25 characters. */
export function newObjectId(): string {
  if (poolAt + 16 > pool.length) {
    // One system call per 256 IDs: the orchestrator makes tens of thousands at a time.
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const hi = pool.readBigUInt64BE(poolAt);
  const lo = pool.readBigUInt64BE(poolAt + 8);
  poolAt += 16;
  return ((hi << 64n) | lo).toString(36).padStart(25, '0');
}

let pool = Buffer.alloc(0);
let poolAt = 0;

const ID_RE = /^[0-9a-z]{25}$/;

export function looksLikeObjectId(s: string): boolean {
  return ID_RE.test(s);
}
