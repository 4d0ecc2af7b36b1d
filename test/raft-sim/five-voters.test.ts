import { describe, it } from 'vitest';
import { runName, runSeeds } from './run-seeds.js';

describe('raft simulator: safety invariants after every step, linearizable client histories', () => {
  it(runName(5), () => runSeeds(5));
});
