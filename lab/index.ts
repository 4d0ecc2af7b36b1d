// The lab: simulated hosts as network namespaces on one machine. The test harness
// (test/lab) builds throwaway labs on it; `skiff lab` builds a lasting one that runs a
// skiff cluster.
export * from './command.js';
export {
  checkLabHosts,
  checkLabName,
  createLastingLab,
  destroyLastingLab,
  execOnLabHost,
  LASTING_LAB_RUN_ROOT,
  LASTING_LAB_STATE_ROOT,
  type LabNodeRecord,
  type LastingLabRecord,
  leftoversOf,
  listLastingLabs,
  MAX_LAB_HOSTS,
  planLastingLab,
  readLastingLab,
} from './lasting-lab.js';
export { listMounts } from './mounts.js';
export { inNetns } from './netns.js';
export { createTopology, ipBatch, switchPort, type TopologyHost, type TopologySpec } from './topology.js';
