// The leader turns the encrypted overlays' key ring (manager/store/network-keys.ts) once
// its newest key is older than the rotation period (Swarm's 12 hours). A new leader picks
// up where the last one stopped: the due time is read from the ring, not kept in memory.
import type { Logger } from '../../lib/index.js';
import { describeError } from '../../lib/index.js';
import {
  NETWORK_KEY_ROTATION_MS,
  networkKeysDueAt,
  openNetworkKeys,
  rotateNetworkKeys,
  type Store,
  withNetworkKeys,
} from '../store/index.js';

/** How often the leader looks at the ring's age; a rotation may come this much late. */
const CHECK_MS = 60_000;

export class NetworkKeyRotation {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly periodMs = NETWORK_KEY_ROTATION_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.pass = this.rotateIfDue().then(
        () => {},
        (e: unknown) =>
          this.log.warn({ err: describeError(e) }, 'network key rotation failed; retried at the next check'),
      );
    }, CHECK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  async rotateIfDue(now = Date.now()): Promise<boolean> {
    return this.store.update((tx) => {
      const cluster = this.store.getCluster();
      const ring = openNetworkKeys(this.store, cluster);
      if (!cluster || !ring || networkKeysDueAt(ring, this.periodMs) > now) return false;
      const next = rotateNetworkKeys(ring, now);
      tx.updateCluster(withNetworkKeys(this.store, cluster, next));
      this.log.info({ tag: next.clock }, 'network key ring rotated');
      return true;
    });
  }
}
