// The CI contract (issue 10): `stack deploy --wait` exits 0 only when the rollout
// converged. v1 healthy → 0; v2 with a failing health check and failure_action
// rollback → non-zero, the JSON report says rolled back, and v1 keeps serving;
// v3 healthy → 0.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('CI rollouts with stack deploy --wait', () => {
  let node: TestNode;
  let dir: string;
  let port: number;

  const page = async () => {
    const r = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`]);
    return r.code === 0 ? r.stdout.trim() : `(no answer: ${r.stderr.trim()})`;
  };
  const deploy = (tag: string, check: string) =>
    node.skiff(
      ['stack', 'deploy', '-c', 'stack.yaml', '--wait', '--timeout', '90s', '--format', 'json', 'shop'],
      {
        cwd: dir,
        env: { TAG: tag, CHECK: check },
      },
    );

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-ci-'));
    port = await freePort();
    for (const v of ['v1', 'v2', 'v3']) {
      const d = mkdtempSync(join(dir, `img-${v}-`));
      const r = await importBusybox(node, d, `${v}\n`, `localhost/app:${v}`);
      expect(r.code).toBe(0);
    }
    writeFileSync(
      join(dir, 'stack.yaml'),
      `services:
  web:
    image: localhost/app:\${TAG}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["${port}:80"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "\${CHECK}"]
      interval: 1s
      timeout: 1s
      retries: 2
    deploy:
      replicas: 2
      update_config:
        parallelism: 1
        failure_action: rollback
        monitor: 2s
        order: start-first
`,
    );
    const started = await node.skiff(['daemon', 'start']);
    expect(started.code).toBe(0);
  });

  afterAll(async () => {
    await node.skiff(['stack', 'rm', 'shop'], { cwd: dir });
    await waitFor(async () => (await node.skiff(['service', 'ls', '-q'])).stdout.trim() === '', {
      what: 'stack removed',
      timeoutMs: 60_000,
    }).catch(() => {});
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 on a converged rollout, non-zero on a rolled-back one, and keeps v1 serving', async () => {
    const v1 = await deploy('v1', 'true');
    expect(v1.code, v1.stderr).toBe(0);
    expect(JSON.parse(v1.stdout)).toMatchObject({
      converged: true,
      services: [{ service: 'shop_web', outcome: 'converged' }],
    });
    expect(await waitFor(async () => ((await page()) === 'v1' ? 'v1' : undefined), { what: 'v1 page' })).toBe(
      'v1',
    );

    const v2 = await deploy('v2', 'false');
    expect(v2.code).toBe(1);
    const report = JSON.parse(v2.stdout);
    expect(report.converged).toBe(false);
    expect(report.services[0]).toMatchObject({
      service: 'shop_web',
      previousImage: 'localhost/app:v1',
      image: 'localhost/app:v2',
      outcome: 'rolled_back',
    });
    expect(v2.stderr).toContain('stack shop did not converge: shop_web (rolled back)');
    expect(await page()).toBe('v1');

    const v3 = await deploy('v3', 'true');
    expect(v3.code, v3.stderr).toBe(0);
    expect(JSON.parse(v3.stdout).services[0]).toMatchObject({
      previousImage: 'localhost/app:v1',
      outcome: 'converged',
    });
    expect(await waitFor(async () => ((await page()) === 'v3' ? 'v3' : undefined), { what: 'v3 page' })).toBe(
      'v3',
    );
  });
});
