// The two engines the stack benchmarks drive the same way: skiff and Docker Swarm.
export * from './engines.js';
