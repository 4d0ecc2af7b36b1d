// The multi-host test lab and the small helpers every test uses (waiting with a
// deadline, running commands, cleaning up).
export * from './command.js';
export * from './wait.js';
