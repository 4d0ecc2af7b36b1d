// The keys of encrypted overlays, as Swarm's key manager keeps them: a ring of three
// random keys in the cluster object (an `x-skiff` extension, sealed with the store key
// like the unlock key, so it is in clear neither in the raft log nor on the API), the
// newest added and the oldest dropped at each rotation. Nodes receive with every key of
// the ring and send with the middle one (NetworkKeys.primary): it reached every node one
// rotation earlier, so a node that switches to it never sends what a peer cannot read
// yet, and the previous primary stays readable while the others switch.
import { randomBytes } from 'node:crypto';
import type { NetworkKeys } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

/** Where the cluster object keeps the sealed ring. */
export const NETWORK_KEYS_FIELD = 'x-skiff-network-keys';
/** Swarm's rotation period. */
export const NETWORK_KEY_ROTATION_MS = 12 * 60 * 60 * 1000;
const RING_SIZE = 3;
/** AES-128 (Swarm's AES_128_GCM) plus the 4-byte salt of rfc4106. */
const KEY_BYTES = 20;

export interface NetworkKeyRing {
  /** The last tag given (a Lamport clock): tags never repeat, even across leaders. */
  clock: number;
  /** Oldest first. */
  keys: { tag: number; key: string; createdMs: number }[];
}

/** A fresh ring: three keys at once (no node sends yet, so all can be given together). */
export function newNetworkKeyRing(
  nowMs: number,
  random: (n: number) => Buffer = randomBytes,
): NetworkKeyRing {
  let ring: NetworkKeyRing = { clock: 0, keys: [] };
  for (let i = 0; i < RING_SIZE; i++) ring = rotateNetworkKeys(ring, nowMs, random);
  return ring;
}

/** The ring with a new key added and, past three, the oldest dropped. */
export function rotateNetworkKeys(
  ring: NetworkKeyRing,
  nowMs: number,
  random: (n: number) => Buffer = randomBytes,
): NetworkKeyRing {
  const tag = ring.clock + 1;
  const keys = [...ring.keys, { tag, key: random(KEY_BYTES).toString('base64'), createdMs: nowMs }];
  return { clock: tag, keys: keys.slice(-RING_SIZE) };
}

/** What nodes are given: every key, and the middle one (the second newest) to send with. */
export function networkKeysView(ring: NetworkKeyRing): NetworkKeys {
  const keys = ring.keys.map(({ tag, key }) => ({ tag, key }));
  const primary = keys[Math.max(0, keys.length - 2)];
  if (!primary) throw new SkiffError('internal', 'the network key ring is empty');
  return { keys, primary: primary.tag };
}

/** When the newest key is older than the period, the ring is due for rotation. */
export function networkKeysDueAt(ring: NetworkKeyRing, periodMs = NETWORK_KEY_ROTATION_MS): number {
  const newest = ring.keys.at(-1)?.createdMs ?? 0;
  return newest + periodMs;
}

/** The sealed ring of a cluster object, when one was made. */
export function sealedNetworkKeys(cluster: object | undefined): string | undefined {
  const v = (cluster as Record<string, unknown> | undefined)?.[NETWORK_KEYS_FIELD];
  return typeof v === 'string' ? v : undefined;
}

export function encodeNetworkKeys(ring: NetworkKeyRing): Uint8Array {
  return Buffer.from(JSON.stringify(ring));
}

export function decodeNetworkKeys(data: Uint8Array): NetworkKeyRing {
  const v = JSON.parse(Buffer.from(data).toString()) as Partial<NetworkKeyRing>;
  const ok =
    typeof v.clock === 'number' &&
    Array.isArray(v.keys) &&
    v.keys.length > 0 &&
    v.keys.every(
      (k) => typeof k?.tag === 'number' && typeof k.key === 'string' && typeof k.createdMs === 'number',
    );
  if (!ok) throw new SkiffError('corrupt', 'the cluster object holds a malformed network key ring');
  return v as NetworkKeyRing;
}

interface Sealer {
  seal(plain: Uint8Array, context: string): string;
  open(sealed: string, context: string): Uint8Array;
}

/** The cluster object's ring, opened; undefined when no encrypted overlay was ever made. */
export function openNetworkKeys(store: Sealer, cluster: object | undefined): NetworkKeyRing | undefined {
  const sealed = sealedNetworkKeys(cluster);
  return sealed === undefined ? undefined : decodeNetworkKeys(store.open(sealed, NETWORK_KEYS_FIELD));
}

/** The cluster object with `ring` sealed into it. */
export function withNetworkKeys<C extends object>(store: Sealer, cluster: C, ring: NetworkKeyRing): C {
  return { ...cluster, [NETWORK_KEYS_FIELD]: store.seal(encodeNetworkKeys(ring), NETWORK_KEYS_FIELD) };
}
