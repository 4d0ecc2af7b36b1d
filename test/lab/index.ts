// The multi-host test lab (hosts as network namespaces on a virtual switch, partitions,
// processes to kill and restart, a sweeper for dead runs) and the small helpers every
// test uses: waiting with a deadline, running commands, a cleanup stack.
export * from './cleanup.js';
export * from './command.js';
export { type CreateLabOptions, createLab, type Lab, type LabHost, labLeftovers } from './lab.js';
export { LabProcess, type LabSpawnOptions, type ProcessExit } from './process.js';
export { isProcessAlive, type SweepReport, sweepLeftovers } from './sweep.js';
export { LAB_DIR } from './teardown.js';
export * from './wait.js';
