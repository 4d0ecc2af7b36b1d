// A container whose command cannot be executed is the caller's mistake: the Engine API
// answers 400 with the runtime's reason (as dockerd does), not 500, and nothing is left.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/create-errors:1';

describe('creating a container whose command does not exist', () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-create-err-'));
    const imp = await importBusybox(node, dir, 'x\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('is refused with 400 and the reason, and leaves no container', async () => {
    const socket = join(node.runDir, 'skiff.sock');
    const r = await socketApi(
      socket,
      'the node',
      'POST',
      '/containers/create?name=no-such-cmd',
      { Image: IMAGE, Cmd: ['no-such-command'] },
      60_000,
    );
    expect(r.status).toBe(400);
    expect((r.json as { message: string }).message).toMatch(/executable file .*no-such-command.* not found/);
    const list = await socketApi(socket, 'the node', 'GET', '/containers/json?all=1', undefined, 30_000);
    expect((list.json as { Names: string[] }[]).flatMap((c) => c.Names)).not.toContain('/no-such-cmd');
  }, 120_000);
});
