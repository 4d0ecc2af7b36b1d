// Shelling out, for peers and host pictures: the test lab's helpers, re-exported so
// benchmark code imports them from one place.
export { type CommandResult, runChecked, runCommand, waitFor } from '../../test/lab/index.js';
