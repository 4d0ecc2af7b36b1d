export { buildProgram, runCli } from './program.js';
export { skiffVersion } from './version.js';
