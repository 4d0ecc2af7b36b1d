// The lab: simulated hosts as network namespaces on one machine. The test harness
// (test/lab) builds throwaway labs on it; `skiff lab` builds a lasting one that runs a
// skiff cluster.
export * from './command.js';
export { inNetns } from './netns.js';
export { createTopology, ipBatch, switchPort, type TopologyHost, type TopologySpec } from './topology.js';
