// examples/ci-rollout as a CI job runs it: v1 deploys (exit 0), v2 fails its health
// check and is rolled back (non-zero exit) while v1 keeps serving, v3 deploys. The
// script checks each step itself; the test checks its verdict and what is left running.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../../lib/index.js';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const EXAMPLE = resolve(import.meta.dirname, '../../../examples/ci-rollout');

describe('examples/ci-rollout', () => {
  let node: TestNode;
  let port: number;

  beforeAll(async () => {
    node = testNode();
    port = await freePort();
  });

  afterAll(async () => {
    await node.skiff(['stack', 'rm', 'ci']);
    await waitFor(async () => (await node.skiff(['service', 'ls', '-q'])).stdout.trim() === '', {
      what: 'the stack removed',
      timeoutMs: 60_000,
    }).catch(() => {});
    await node.destroy();
  });

  it('rolls back the broken v2 with a non-zero exit while v1 serves, then rolls out v3', async () => {
    const run = await runCommand('bash', [resolve(EXAMPLE, 'run.sh')], {
      env: { ...node.env, CI_ROLLOUT_PORT: String(port) },
      timeoutMs: 400_000,
    });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('v1 serves: v1');
    expect(run.stdout).toContain('deploy v2 exited non-zero');
    expect(run.stdout).toContain('v1 still serves: v1');
    expect(run.stdout).toContain('v3 serves: v3');
    expect(run.stderr).toContain('stack ci did not converge: ci_web (rolled back)');

    const ls = await node.skiff(['service', 'inspect', 'ci_web']);
    expect(ls.code, ls.stderr).toBe(0);
    const [svc] = JSON.parse(ls.stdout) as Service[];
    expect(svc?.Spec?.TaskTemplate?.ContainerSpec?.Image).toBe('localhost/skiff-examples/ci-app:v3');
    const page = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`]);
    expect(page.stdout.trim()).toBe('v3');
  }, 420_000);
});
