// The scheduler: picks a node for each pending task (filters, then spread over
// placement preferences). Pure; the leader's driver feeds it store snapshots and
// commits its decisions in one proposal.

export { type Constraint, nodeMatchesConstraints, parseConstraint, parseConstraints } from './constraints.js';
export { nodeSuitsSpec } from './requirements.js';
export {
  type Assignment,
  type ScheduleInput,
  type ScheduleResult,
  schedule,
  type Unschedulable,
} from './schedule.js';
