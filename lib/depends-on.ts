// depends_on between a stack's services travels from the deployer to the orchestrator
// in a service label (DEPENDS_ON_LABEL) as JSON. This is its one codec.
// The decoder checks the shape by hand rather than with zod: lib is loaded by every CLI
// command, and zod costs each of them ~100 ms to load.
import { SkiffError } from './errors.js';

export const DEPENDENCY_CONDITIONS = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

/** One entry of a service's depends_on. */
export interface StackDependency {
  /** The stack-local (compose) service name depended on. */
  service: string;
  condition: DependencyCondition;
  /** false: the service starts without it (compose's `required: false`). Absent means true. */
  required?: boolean | undefined;
  /** Compose's `restart`; recorded, not acted on by the orchestrator. */
  restart?: boolean | undefined;
}

/** What is wrong with one entry, with its path, or undefined when it is a StackDependency. */
function entryProblem(e: unknown, i: number): string | undefined {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return `at ${i}: expected an object`;
  const o = e as Record<string, unknown>;
  if (typeof o.service !== 'string' || o.service === '') return `at ${i}.service: expected a service name`;
  if (!DEPENDENCY_CONDITIONS.includes(o.condition as DependencyCondition)) {
    return `at ${i}.condition: expected one of ${DEPENDENCY_CONDITIONS.join(', ')}`;
  }
  for (const k of ['required', 'restart'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') return `at ${i}.${k}: expected a boolean`;
  }
  return undefined;
}

/**
 * The label's value. The entries are written as given, keys in their order: the label
 * is part of the spec hash, so the same dependencies must always give the same text.
 */
export function encodeDependsOn(deps: readonly StackDependency[]): string {
  return JSON.stringify(deps);
}

/** Parses the label's value; throws an 'invalid_argument' SkiffError saying what is wrong. */
export function decodeDependsOn(label: string): StackDependency[] {
  let json: unknown;
  try {
    json = JSON.parse(label);
  } catch (e) {
    throw new SkiffError('invalid_argument', `depends_on label is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(json))
    throw new SkiffError('invalid_argument', 'depends_on label is malformed: expected an array');
  for (const [i, e] of json.entries()) {
    const problem = entryProblem(e, i);
    if (problem) throw new SkiffError('invalid_argument', `depends_on label is malformed ${problem}`);
  }
  // Only the known keys, as a schema would keep them.
  return (json as StackDependency[]).map((d) => ({
    service: d.service,
    condition: d.condition,
    ...(d.required === undefined ? {} : { required: d.required }),
    ...(d.restart === undefined ? {} : { restart: d.restart }),
  }));
}
