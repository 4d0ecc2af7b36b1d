// The dashboard's pure model, shared by its server and its browser bundle.
export { bytes, type NodeRow, nodeRows } from './nodes.js';
export { type RolloutRow, rolloutRows } from './rollouts.js';
export {
  modeOf,
  type NetworkNames,
  networkNames,
  parseReplicas,
  type ServiceModeName,
  type ServiceRow,
  serviceRow,
  serviceRows,
  type UpdateRow,
} from './rows.js';
export { fieldsSet, toYaml, type WrittenSpec, writtenSpec } from './spec.js';
export { type StackRow, stackRows } from './stacks.js';
export { type CpuCounters, cpuCounters, StatsHistory, type StatsPoint, statsPoint } from './stats.js';
export { type TaskEvent, taskEvent } from './task-events.js';
export { age, type TaskRow, taskRows } from './tasks.js';
