// `compose exec` into a task on another host (#19): the CLI asks one manager, the task
// runs on another, and the manager forwards the exec to that node over mTLS, both
// streams passing through. The exit code comes back; under a pseudo-terminal
// (`script`) `exec` is interactive in the container's own terminal. A task on a worker
// (no API port to reach) is refused by name.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from '../../../lab/index.js';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { underTerminal } from '../../support/terminal.js';
import { BIN, LAB_IMAGE, type LabCluster, type LabClusterNode, logTail, startLabCluster } from './helpers.js';

describe('compose exec across lab hosts', () => {
  let c: LabCluster;
  let asked: LabClusterNode;
  let runsIt: LabClusterNode;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 2, workers: 1, image: true });
    [asked, runsIt] = c.managers as [LabClusterNode, LabClusterNode];
    const worker = c.workers[0] as LabClusterNode;
    const file = join(asked.stateRoot, 'exec-stack.yml');
    const service = (node: string) =>
      `    image: ${LAB_IMAGE}\n    command: ["sleep", "3600"]\n    deploy:\n      placement:\n        constraints: ["node.id == ${node}"]\n`;
    writeFileSync(file, `services:\n  web:\n${service(runsIt.id)}  far:\n${service(worker.id)}`);
    const deploy = await c.skiff(['stack', 'deploy', '-c', file, 'xs'], asked);
    expect(deploy.code, deploy.stderr).toBe(0);
    await waitFor(
      async () => {
        const ts = (await c.json<Task[]>(['service', 'ps', 'xs_web', 'xs_far'], asked)).filter(
          (t) => t.Status.State === 'running',
        );
        return ts.length === 2 ? ts : undefined;
      },
      { what: 'xs_web and xs_far running', timeoutMs: 120_000 },
    );
  }, 300_000);

  afterAll(async () => {
    await c?.skiff(['stack', 'rm', 'xs']).catch(() => {});
    await c?.destroy();
  }, 120_000);

  it('runs the command on the task’s host and returns its exit code', async () => {
    const r = await c.skiff(
      ['compose', '-p', 'xs', 'exec', '-T', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
      asked,
    );
    expect(r.code, `${r.stderr}\n${logTail(asked, 20)}`).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err');
  }, 60_000);

  it('exec under a pseudo-terminal echoes typed input from the remote container’s terminal', async () => {
    const sock = `unix://${asked.runDir}/skiff.sock`;
    const r = await underTerminal(
      `stty rows 21 cols 77; ${process.execPath} ${BIN} -H ${sock} compose -p xs exec web sh`,
      [
        { waitFor: /\/ # /, type: 'stty size; echo $((6*7))\r' },
        { waitFor: /^42\r?$/m, type: 'exit 4\r' },
      ],
      { env: asked.env, wrap: (cmd, args) => inNetns(asked.host.netns, cmd, args, true), timeoutMs: 60_000 },
    );
    expect(r.code).toBe(4);
    expect(r.output).toContain('stty size; echo $((6*7))');
    expect(r.output).toMatch(/^21 77\r$/m);
  }, 90_000);

  it('refuses a task on a worker by name', async () => {
    const r = await c.skiff(['compose', '-p', 'xs', 'exec', '-T', 'far', 'true'], asked);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('is a worker');
  }, 60_000);
});
