// What only the leader runs: allocation, scheduling and orchestration loops over the
// store. Started when this manager becomes leader, stopped when it stops being one.
import type { Logger } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import { AllocationLoop } from './allocation.js';
import { NetworkKeyRotation } from './network-keys.js';
import { OrchestrationLoop } from './orchestration.js';
import { SchedulingLoop } from './scheduling.js';

export interface LeaderOptions {
  /** Address pools for overlay networks (Swarm's DefaultAddrPool). */
  addressPools?: string[];
  subnetSize?: number;
  /** Subnets used by the hosts, never handed out. */
  reservedSubnets?: string[];
}

export class LeaderLoops {
  private loops: {
    allocation: AllocationLoop;
    orchestration: OrchestrationLoop;
    scheduling: SchedulingLoop;
    networkKeys: NetworkKeyRotation;
  };
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly opts: LeaderOptions = {},
  ) {
    this.loops = this.newLoops();
  }

  /**
   * Starts the loops, fresh for each term of leadership: a stopped loop never runs again,
   * and what the last term kept in memory (allocations, dirty sets) may be stale now.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.newLoops();
    this.loops.allocation.start();
    this.loops.orchestration.start();
    this.loops.scheduling.start();
    this.loops.networkKeys.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { allocation, orchestration, scheduling, networkKeys } = this.loops;
    await Promise.all([allocation.stop(), orchestration.stop(), scheduling.stop(), networkKeys.stop()]);
  }

  /** Resolves when no loop has work queued; for tests. */
  async settled(): Promise<void> {
    const { allocation, orchestration, scheduling } = this.loops;
    await Promise.all([allocation.settled(), orchestration.settled(), scheduling.settled()]);
  }

  private newLoops() {
    const o = this.opts;
    // The cluster object keeps the pools chosen at init; an explicit option wins (tests).
    const cluster = this.store.getCluster();
    const pools = o.addressPools ?? cluster?.DefaultAddrPool;
    const subnetSize = o.subnetSize ?? cluster?.SubnetSize;
    return {
      allocation: new AllocationLoop(this.store, this.log, {
        ...(pools && pools.length > 0 ? { pools } : {}),
        ...(subnetSize ? { subnetSize } : {}),
        ...(o.reservedSubnets ? { reserved: o.reservedSubnets } : {}),
      }),
      orchestration: new OrchestrationLoop(this.store, this.log),
      scheduling: new SchedulingLoop(this.store, this.log),
      networkKeys: new NetworkKeyRotation(this.store, this.log),
    };
  }
}
