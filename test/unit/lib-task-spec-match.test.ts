import { describe, expect, it } from 'vitest';
import { type TaskSpec, taskSpecMatches } from '../../lib/index.js';

const spec = (image: string, env: string[] = []): TaskSpec => ({ ContainerSpec: { Image: image, Env: env } });

describe('taskSpecMatches', () => {
  it('matches the same spec, and an image pinned to a digest matches its tag', () => {
    expect(taskSpecMatches(spec('app:1', ['V=1']), spec('app:1', ['V=1']))).toBe(true);
    expect(taskSpecMatches(spec('app:1@sha256:abc', ['V=1']), spec('app:1', ['V=1']))).toBe(true);
  });

  it('does not match another image, another tag or a change beside the image', () => {
    expect(taskSpecMatches(spec('app:2'), spec('app:1'))).toBe(false);
    expect(taskSpecMatches(spec('app:10'), spec('app:1'))).toBe(false);
    expect(taskSpecMatches(spec('app:1', ['V=1']), spec('app:1', ['V=2']))).toBe(false);
    expect(taskSpecMatches({ ...spec('app:1'), ForceUpdate: 1 }, { ...spec('app:1'), ForceUpdate: 2 })).toBe(
      false,
    );
  });
});
