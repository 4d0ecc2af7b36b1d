// Removes what crashed or interrupted earlier test runs left behind: lab namespaces,
// links, mounts and processes, and test registries, of owners that no longer exist.
// scripts/test calls it before every run.
import { sweepRegistries } from '../fixtures/index.js';
import { isProcessAlive, sweepLeftovers } from './index.js';

const { removed } = sweepLeftovers();
if (removed.length > 0)
  console.log(`swept leftovers of ${removed.length} dead lab run(s): ${removed.join(' ')}`);
const registries = sweepRegistries(isProcessAlive);
if (registries.length > 0) console.log(`swept ${registries.length} abandoned test registr(ies)`);
