// What only the leader runs: allocation, scheduling and orchestration loops over the
// store. Started when this manager becomes leader, stopped when it stops being one.
import type { Logger } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import { AllocationLoop } from './allocation.js';
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
  private readonly allocation: AllocationLoop;
  private readonly orchestration: OrchestrationLoop;
  private readonly scheduling: SchedulingLoop;
  private running = false;

  constructor(store: Store, log: Logger, opts: LeaderOptions = {}) {
    this.allocation = new AllocationLoop(store, log, {
      ...(opts.addressPools ? { pools: opts.addressPools } : {}),
      ...(opts.subnetSize ? { subnetSize: opts.subnetSize } : {}),
      ...(opts.reservedSubnets ? { reserved: opts.reservedSubnets } : {}),
    });
    this.orchestration = new OrchestrationLoop(store, log);
    this.scheduling = new SchedulingLoop(store, log);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.allocation.start();
    this.orchestration.start();
    this.scheduling.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.all([this.allocation.stop(), this.orchestration.stop(), this.scheduling.stop()]);
  }

  /** Resolves when no loop has work queued; for tests. */
  async settled(): Promise<void> {
    await Promise.all([this.allocation.settled(), this.orchestration.settled(), this.scheduling.settled()]);
  }
}
