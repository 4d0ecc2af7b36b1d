// The command runner lives in the lab component; tests import it from here by path.
export { type CommandResult, type RunOptions, runChecked, runCommand } from '../../lab/index.js';
