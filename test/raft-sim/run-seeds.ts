// Runs the seeded raft simulation over many seeds and checks every history: the body of
// the raft-sim project's tests (one file per cluster size, so the two run in parallel).
import { expect } from 'vitest';
import { checkLinearizable } from '../support/linearizability.js';
import { runSimulation } from './simulator.js';

// RAFT_SIM_SEEDS=N runs N seeds from RAFT_SIM_FIRST_SEED (default 1) — the soak mode;
// RAFT_SIM_SEED=S reruns one seed alone (a failure message names its seed and step).
const single = process.env.RAFT_SIM_SEED ? Number(process.env.RAFT_SIM_SEED) : undefined;
const seeds = Number(process.env.RAFT_SIM_SEEDS ?? 1000);
const steps = Number(process.env.RAFT_SIM_STEPS ?? 2000);
const firstSeed = Number(process.env.RAFT_SIM_FIRST_SEED ?? 1);

/** The test's name: nodes × seeds × steps. */
export function runName(voters: 3 | 5): string {
  return `${voters} nodes × ${single ?? seeds} seeds × ${steps} steps`;
}

export function runSeeds(voters: 3 | 5): void {
  const list = single !== undefined ? [single] : Array.from({ length: seeds }, (_, i) => firstSeed + i);
  let writes = 0;
  let elections = 0;
  let confChanges = 0;
  let snapshots = 0;
  let transfers = 0;
  for (const seed of list) {
    // A violation throws with the seed and step in its message; rerun with RAFT_SIM_SEED=<seed>.
    const r = runSimulation({ seed, voters, steps });
    const lin = checkLinearizable(r.history);
    if (!lin.ok)
      throw new Error(`seed ${seed} (${voters} nodes): history of key ${lin.key} is not linearizable`);
    if (r.finalPhaseWrites === 0)
      throw new Error(`seed ${seed} (${voters} nodes): no write committed after the faults healed`);
    writes += r.committedWrites;
    elections += r.leaderElections;
    confChanges += r.confChanges;
    snapshots += r.snapshotsDelivered;
    transfers += r.transfers;
  }
  if (single !== undefined) return; // one seed alone need not hit every feature
  // The runs must actually exercise the protocol, not idle.
  expect(writes).toBeGreaterThan(list.length * 50);
  expect(elections).toBeGreaterThan(list.length);
  expect(confChanges).toBeGreaterThan(0);
  expect(snapshots).toBeGreaterThan(0);
  expect(transfers).toBeGreaterThan(0);
}
