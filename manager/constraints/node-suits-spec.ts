import type { Node, TaskSpec } from '../../lib/index.js';
import { type Constraint, nodeMatchesConstraints, parseConstraints } from './constraint.js';
import { nodeRunsPlatforms } from './platform.js';

/**
 * Whether tasks of this spec could ever run on the node (constraints and platform),
 * whatever its availability and load: global services and jobs pick their nodes with it,
 * and the scheduler filters by the same rules. An invalid constraint matches no node.
 */
export function nodeSuitsSpec(node: Node, spec: TaskSpec | undefined): boolean {
  let constraints: Constraint[];
  try {
    constraints = parseConstraints(spec?.Placement?.Constraints);
  } catch {
    return false;
  }
  return (
    nodeMatchesConstraints(node, constraints) && nodeRunsPlatforms(node, spec?.Placement?.Platforms ?? [])
  );
}
