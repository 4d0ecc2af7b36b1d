// Removes what crashed or interrupted earlier test runs left behind (lab namespaces,
// links, mounts, processes of dead owners); scripts/test calls it before every run.
import { sweepLeftovers } from './sweep.js';

const { removed } = sweepLeftovers();
if (removed.length > 0)
  console.log(`swept leftovers of ${removed.length} dead lab run(s): ${removed.join(' ')}`);
