// A migration job gates a rollout (issue 23, item 6): web depends_on a replicated-job
// with service_completed_successfully. A failing job makes `stack deploy --wait` exit
// non-zero naming it, and web keeps its previous spec and tasks; a passing job lets
// web's update through, after the job completed; an unchanged job is not run again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('a migration job in a stack rollout', () => {
  let node: TestNode;
  let dir: string;

  const deploy = (version: string, migrateExit: number, stack = 'app') =>
    node.skiff(['stack', 'deploy', '-c', 'stack.yaml', '--wait', '--timeout', '90s', stack], {
      cwd: dir,
      env: { VERSION: version, MIGRATE_EXIT: String(migrateExit) },
    });
  const inspect = async (service: string, format: string): Promise<string> => {
    const r = await node.skiff(['service', 'inspect', '--format', format, service]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  const tasks = async (service: string): Promise<Task[]> => {
    const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
    const r = await socketApi(
      join(node.runDir, 'skiff.sock'),
      'the node',
      'GET',
      `/tasks?filters=${filters}`,
    );
    expect(r.status).toBe(200);
    return r.json as Task[];
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-migrate-'));
    const r = await importBusybox(node, mkdtempSync(join(dir, 'img-')), 'app\n', 'localhost/app:v1');
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(
      join(dir, 'stack.yaml'),
      `services:
  migrate:
    image: localhost/app:v1
    command: ["sh", "-c", "sleep 2; exit \${MIGRATE_EXIT}"]
    deploy:
      mode: replicated-job
      restart_policy:
        condition: none
  web:
    image: localhost/app:v1
    command: ["sleep", "3600"]
    environment:
      VERSION: \${VERSION}
    stop_grace_period: 1s
    depends_on:
      migrate:
        condition: service_completed_successfully
`,
    );
  });

  afterAll(async () => {
    await node.skiff(['stack', 'rm', 'app'], { cwd: dir });
    await node.skiff(['stack', 'rm', 'fresh'], { cwd: dir });
    await waitFor(async () => (await node.skiff(['service', 'ls', '-q'])).stdout.trim() === '', {
      what: 'stack removed',
      timeoutMs: 60_000,
    }).catch(() => {});
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds web back when the migration fails, and lets it through when it passes', async () => {
    const v1 = await deploy('v1', 0);
    expect(v1.code, v1.stderr).toBe(0);
    expect(await inspect('app_web', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')).toBe('["VERSION=v1"]');

    // A failing migration: non-zero naming the job; web keeps v1, its spec and its task.
    const webTaskV1 = (await tasks('app_web')).find((t) => t.Status.State === 'running')!;
    const v2 = await deploy('v2', 1);
    expect(v2.code).toBe(1);
    expect(v2.stderr).toMatch(/app_migrate: failed: job did not complete successfully: task \S+: .*exit/);
    expect(v2.stderr).toContain('update held back: migrate did not complete successfully');
    expect(v2.stderr).toContain('stack app did not converge: app_migrate (failed), app_web (rolled back)');
    expect(await inspect('app_web', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')).toBe('["VERSION=v1"]');
    const web = await tasks('app_web');
    expect(web.filter((t) => t.DesiredState === 'running').map((t) => t.ID)).toEqual([webTaskV1.ID]);
    expect(web.find((t) => t.ID === webTaskV1.ID)?.Status.State).toBe('running');

    // A passing migration: web's update goes through, after the job completed.
    const v3 = await deploy('v3', 0);
    expect(v3.code, v3.stderr).toBe(0);
    expect(await inspect('app_web', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}')).toBe('["VERSION=v3"]');
    const migrate = await tasks('app_migrate');
    const done = migrate.filter((t) => t.Status.State === 'complete');
    const lastRun = done
      .sort((a, b) => (a.Status.Timestamp ?? '').localeCompare(b.Status.Timestamp ?? ''))
      .at(-1)!;
    const webV3 = (await tasks('app_web')).find(
      (t) => t.DesiredState === 'running' && t.Spec.ContainerSpec?.Env?.includes('VERSION=v3'),
    );
    expect(webV3?.Status.State).toBe('running');
    expect(Date.parse(webV3!.CreatedAt)).toBeGreaterThanOrEqual(Date.parse(lastRun.Status.Timestamp!));

    // The same file again: nothing changes, the job does not run again.
    const again = await deploy('v3', 0);
    expect(again.code, again.stderr).toBe(0);
    expect((await tasks('app_migrate')).length).toBe(migrate.length);
  });

  it('on a first deploy, a failing migration means web never starts, and --wait says so at once', async () => {
    const r = await deploy('v1', 1, 'fresh');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fresh_web: failed: not started: migrate did not complete successfully');
    expect(r.stderr).toContain('stack fresh did not converge: fresh_migrate (failed), fresh_web (failed)');
    expect(await tasks('fresh_web')).toEqual([]);
  });
});
