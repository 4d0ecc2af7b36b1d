// The process entry of the `skiff` command.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
