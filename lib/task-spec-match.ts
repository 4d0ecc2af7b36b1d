// Whether a task runs a service's current spec: the one judgement the CLI's rollout
// follower (cli/rollout.ts) and the dashboard's rollout progress
// (dashboard/server/rollouts.ts) share. Pure.
import { jsonEqual } from './json-equal.js';
import type { TaskSpec } from './model/index.js';

/**
 * Whether a task's spec (`have`) is the service's task template (`want`), all of it as
 * the orchestrator judges it (a restart or an env change leaves the image alone). An
 * image pinned to a digest (`app:1@sha256:…`) matches its tag (`app:1`).
 */
export function taskSpecMatches(have: TaskSpec, want: TaskSpec): boolean {
  const wantImage = want.ContainerSpec?.Image;
  const haveImage = have.ContainerSpec?.Image;
  if (wantImage !== undefined && haveImage !== wantImage && !haveImage?.startsWith(`${wantImage}@`))
    return false;
  const withoutImage = (s: TaskSpec): TaskSpec => ({
    ...s,
    ContainerSpec: { ...s.ContainerSpec, Image: '' },
  });
  return jsonEqual(withoutImage(have), withoutImage(want));
}
