// The scheduler: picks a node for each pending task (filters, then spread over
// placement preferences). Pure; the leader's driver feeds it store snapshots and
// commits its decisions in one proposal. Constraint and platform matching live in
// manager/constraints, shared with the orchestrator.

export {
  type Assignment,
  type ScheduleInput,
  type ScheduleResult,
  schedule,
  type Unschedulable,
} from './schedule.js';
