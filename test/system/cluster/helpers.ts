// The lab cluster helpers live in test/support/lab-cluster.ts (the benchmarks use them too).
export * from '../../support/lab-cluster.js';
