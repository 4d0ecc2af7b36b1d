import { randomBytes } from 'node:crypto';

/** A new object ID as Docker makes them: 128 random bits in lowercase base36, 25 characters. */
export function newObjectId(): string {
  const n = BigInt(`0x${randomBytes(16).toString('hex')}`);
  return n.toString(36).padStart(25, '0');
}

const ID_RE = /^[0-9a-z]{25}$/;

export function looksLikeObjectId(s: string): boolean {
  return ID_RE.test(s);
}
