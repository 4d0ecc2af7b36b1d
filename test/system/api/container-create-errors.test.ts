// A container whose command cannot be executed is the caller's mistake: the Engine API
// answers 400 with the runtime's reason (as dockerd does), not 500, and nothing is left.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerNode } from '../../support/docker-cli.js';
import { socketApi } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/create-errors:1';

describe('creating a container whose command does not exist', () => {
  const d = dockerNode({ image: IMAGE, page: 'x\n', tmpPrefix: 'skiff-create-err-' });

  it('is refused with 400 and the reason, and leaves no container', async () => {
    const socket = join(d.node.runDir, 'skiff.sock');
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
