// `compose exec` into a task on another host (#19): the CLI asks one manager, the task
// runs on another node — a manager or a worker — and the manager forwards the exec to
// that node's peer endpoint (API port + 3) over mTLS, both streams passing through. The
// exit code comes back; under a pseudo-terminal (`script`) `exec` is interactive in the
// container's own terminal. The peer endpoint runs commands for managers only: another
// worker's certificate is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from '../../../lab/index.js';
import { decodeFrames, type Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  BIN,
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';
import { underTerminal } from '../../support/terminal.js';

describe('compose exec across lab hosts', () => {
  let c: LabCluster;
  let asked: LabClusterNode;
  let runsIt: LabClusterNode;
  let worker: LabClusterNode;
  let otherWorker: LabClusterNode;
  let farTask: Task;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 2, workers: 2, image: true });
    [asked, runsIt] = c.managers as [LabClusterNode, LabClusterNode];
    [worker, otherWorker] = c.workers as [LabClusterNode, LabClusterNode];
    const file = join(asked.stateRoot, 'exec-stack.yml');
    const service = (node: string) =>
      `    image: ${LAB_IMAGE}\n    command: ["sleep", "3600"]\n    deploy:\n      placement:\n        constraints: ["node.id == ${node}"]\n`;
    writeFileSync(file, `services:\n  web:\n${service(runsIt.id)}  far:\n${service(worker.id)}`);
    const deploy = await c.skiff(['stack', 'deploy', '-c', file, 'xs'], asked);
    expect(deploy.code, deploy.stderr).toBe(0);
    const running = await waitFor(
      async () => {
        const ts = (await c.apiTasks(['xs_web', 'xs_far'], asked)).filter(
          (t) => t.Status.State === 'running',
        );
        return ts.length === 2 ? ts : undefined;
      },
      { what: 'xs_web and xs_far running', timeoutMs: 120_000 },
    );
    farTask = running.find((t) => t.NodeID === worker.id) as Task;
    expect(farTask).toBeDefined();
  }, 300_000);

  afterAll(async () => {
    await c?.skiff(['stack', 'rm', 'xs']).catch(() => {});
    await c?.destroy();
  }, 120_000);

  it('runs the command on another manager’s task and returns its exit code', async () => {
    const r = await c.skiff(
      ['compose', '-p', 'xs', 'exec', '-T', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
      asked,
    );
    expect(r.code, `${r.stderr}\n${logTail(asked, 20)}`).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err');
  }, 60_000);

  it('runs the command on a worker’s task, stdin passed through, and returns its exit code', async () => {
    const args = ['-H', `unix://${asked.runDir}/skiff.sock`, 'compose', '-p', 'xs', 'exec', '-T', 'far'];
    const script = 'read line; echo "got $line on $(hostname)"; echo err >&2; exit 5';
    const r = await asked.host.exec(process.execPath, [asked.bin, ...args, 'sh', '-c', script], {
      env: asked.env,
      sharedMounts: true,
      input: 'hello\n',
    });
    expect(r.code, `${r.stderr}\n${logTail(asked, 20)}\n${logTail(worker, 20)}`).toBe(5);
    // The container's hostname is its task ID's first 12 characters: the worker's task ran it.
    expect(r.stdout).toBe(`got hello on ${farTask.ID.slice(0, 12)}\n`);
    expect(r.stderr).toContain('err');
  }, 60_000);

  it('exec under a pseudo-terminal echoes typed input from the worker container’s terminal', async () => {
    const sock = `unix://${asked.runDir}/skiff.sock`;
    const r = await underTerminal(
      `stty rows 21 cols 77; ${process.execPath} ${BIN} -H ${sock} compose -p xs exec far sh`,
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

  it('the worker’s peer endpoint runs nothing for another worker’s certificate, and runs it for a manager’s', async () => {
    const marker = '/tmp/exec-by-a-worker';
    const refused = await peerExec(worker, otherWorker, farTask.ID, ['touch', marker]);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain(`node ${otherWorker.id} has a worker certificate`);

    const allowed = await peerExec(worker, asked, farTask.ID, ['sh', '-c', `test -e ${marker}; echo $?`]);
    expect(allowed.status, allowed.text).toBe(200);
    expect(allowed.stdout).toBe('1\n'); // the refused command never ran
    expect(allowed.exit).toEqual({ ExitCode: 0 });
  }, 60_000);
});

/** An exec sent straight to `target`'s peer endpoint with the certificate of node `as`. */
async function peerExec(
  target: LabClusterNode,
  as: LabClusterNode,
  taskId: string,
  cmd: string[],
): Promise<{ status: number; text: string; stdout: string; exit: unknown }> {
  const certs = join(as.stateDir, 'certs');
  const body = JSON.stringify({ Cmd: cmd });
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        host: target.addr,
        port: 2377 + 3,
        method: 'POST',
        path: `/skiff/peer/tasks/${taskId}/exec`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ca: readFileSync(join(certs, 'ca.crt')),
        cert: readFileSync(join(certs, 'node.crt')),
        key: readFileSync(join(certs, 'node.key')),
        // Node certificates name node IDs, not hosts.
        servername: '',
        checkServerIdentity: () => undefined,
        timeout: 30_000,
      },
      resolve,
    );
    req.on('timeout', () => req.destroy(new Error('no answer from the peer endpoint within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (res.statusCode !== 200)
    return { status: res.statusCode ?? 0, text: raw.toString('utf8'), stdout: '', exit: undefined };
  let stdout = '';
  let exit: unknown;
  for await (const f of decodeFrames(Readable.from([raw]))) {
    if (f.stream === 1) stdout += f.payload.toString('utf8');
    else if (f.stream === 3) exit = JSON.parse(f.payload.toString('utf8'));
  }
  return { status: 200, text: '', stdout, exit };
}
