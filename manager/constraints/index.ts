// Placement constraints and platforms matched against a node: pure, shared by the
// scheduler (which node gets a pending task) and the orchestrator (which nodes a global
// service or job runs on), so both read `node.labels.zone==a` the same way.

export {
  type Constraint,
  type ConstraintKey,
  constraintMatches,
  nodeMatchesConstraints,
  nodeValue,
  parseAttributeKey,
  parseConstraint,
  parseConstraints,
} from './constraint.js';
export { nodeSuitsSpec } from './node-suits-spec.js';
export { nodeRunsPlatforms, normalizeArch } from './platform.js';
