import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { SkiffError } from '../../lib/index.js';

/**
 * Join tokens in Docker's format: `SWMTKN-1-<digest of the root CA>-<secret>`. The
 * digest lets a joining node check it talks to the right cluster before trusting it;
 * the secret part says which role the holder may join as.
 */
export function newJoinToken(rootCaPem: string): string {
  return `SWMTKN-1-${caDigest(rootCaPem)}-${randomSecret()}`;
}

/** Keeps the cluster fingerprint, replaces the secret: the old token stops working. */
export function rotateJoinToken(token: string): string {
  const t = parseJoinToken(token);
  return `SWMTKN-1-${t.caDigest}-${randomSecret()}`;
}

export interface ParsedJoinToken {
  caDigest: string;
  secret: string;
}

export function parseJoinToken(token: string): ParsedJoinToken {
  const m = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/.exec(token.trim());
  if (!m) {
    throw new SkiffError('invalid_argument', 'the join token is malformed', {
      hint: 'copy it again from `skiff cluster join-token worker` (or manager) on a manager',
    });
  }
  return { caDigest: m[1]!, secret: m[2]! };
}

/** SHA-256 of the root certificate's DER, in base36 (50 characters). */
export function caDigest(rootCaPem: string): string {
  let bytes: Uint8Array;
  try {
    bytes = new X509Certificate(rootCaPem).raw;
  } catch {
    bytes = Buffer.from(rootCaPem);
  }
  const hex = createHash('sha256').update(bytes).digest('hex');
  return BigInt(`0x${hex}`).toString(36).padStart(50, '0');
}

/** Constant-time token comparison. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function randomSecret(): string {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0')
    .slice(-25);
}
