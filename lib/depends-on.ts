// depends_on between a stack's services travels from the deployer to the orchestrator
// in a service label (DEPENDS_ON_LABEL) as JSON. This is its one codec.
import { z } from 'zod';
import { SkiffError } from './errors.js';

export const DEPENDENCY_CONDITIONS = [
  'service_started',
  'service_healthy',
  'service_completed_successfully',
] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

const stackDependencySchema = z.object({
  /** The stack-local (compose) service name depended on. */
  service: z.string().min(1),
  condition: z.enum(DEPENDENCY_CONDITIONS),
  /** false: the service starts without it (compose's `required: false`). Absent means true. */
  required: z.boolean().optional(),
  /** Compose's `restart`; recorded, not acted on by the orchestrator. */
  restart: z.boolean().optional(),
});

/** One entry of a service's depends_on. */
export type StackDependency = z.infer<typeof stackDependencySchema>;

const dependsOnSchema = z.array(stackDependencySchema);

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
  const parsed = dependsOnSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new SkiffError(
      'invalid_argument',
      `depends_on label is malformed${path}: ${issue?.message ?? 'does not match the schema'}`,
    );
  }
  return parsed.data;
}
