import { createHash, randomBytes } from 'node:crypto';

/**
 * Join tokens in Docker's format: `SWMTKN-1-<digest of the root CA>-<secret>`. The
 * digest lets a joining node check it talks to the right cluster; the secret part
 * says which role the holder may join as.
 */
export function newJoinToken(rootCaPem: string): string {
  const digest = BigInt(`0x${createHash('sha256').update(rootCaPem).digest('hex')}`)
    .toString(36)
    .padStart(50, '0');
  return `SWMTKN-1-${digest}-${randomSecret()}`;
}

/** Keeps the cluster fingerprint, replaces the secret: old tokens stop working. */
export function rotateJoinToken(token: string): string {
  const parts = token.split('-');
  if (parts.length !== 4 || parts[0] !== 'SWMTKN') return newJoinToken(token);
  return `${parts[0]}-${parts[1]}-${parts[2]}-${randomSecret()}`;
}

function randomSecret(): string {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0')
    .slice(0, 25);
}
