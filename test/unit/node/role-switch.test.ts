// A node killed while it switched roles (old cluster state gone, new not yet written) must
// not start as a new cluster's first manager: the start refuses and says how to join again.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { becomeWorker } from '../../../node/leave.js';
import { beginRoleSwitch, checkRoleSwitch, ROLE_SWITCH_FILE } from '../../../node/role-switch.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-role-switch-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const identity = () => {
  mkdirSync(join(dir, 'certs'), { recursive: true });
  writeFileSync(join(dir, 'certs', 'node.crt'), 'cert');
};

describe('an interrupted role switch', () => {
  it('refuses to start a node whose new state was never written, with how to join again', async () => {
    await beginRoleSwitch(dir, 'worker');
    await expect(checkRoleSwitch(dir, false)).rejects.toMatchObject({
      code: 'failed_precondition',
      message: expect.stringMatching(/switched to a worker.*would make a new one/),
      hint: expect.stringMatching(/--join/),
    });
    expect(existsSync(join(dir, ROLE_SWITCH_FILE))).toBe(true);
  });

  it('lets a join with a token start afresh', async () => {
    await beginRoleSwitch(dir, 'manager');
    await expect(checkRoleSwitch(dir, true)).resolves.toBeUndefined();
  });

  it("finishes a worker's switch whose identity and worker state were written", async () => {
    await beginRoleSwitch(dir, 'worker');
    identity();
    await expect(checkRoleSwitch(dir, false)).rejects.toMatchObject({ code: 'failed_precondition' });
    writeFileSync(join(dir, 'worker.json'), JSON.stringify({ nodeId: 'n1', managers: [] }));
    await checkRoleSwitch(dir, false);
    expect(existsSync(join(dir, ROLE_SWITCH_FILE))).toBe(false);
  });

  it("finishes a promotion once the manager's store key (written last) is there", async () => {
    await beginRoleSwitch(dir, 'manager');
    identity();
    await expect(checkRoleSwitch(dir, false)).rejects.toMatchObject({ code: 'failed_precondition' });
    writeFileSync(join(dir, 'secrets.key'), 'k');
    await checkRoleSwitch(dir, false);
    expect(existsSync(join(dir, ROLE_SWITCH_FILE))).toBe(false);
  });

  it('a demotion that completes leaves a worker state that starts, and no mark', async () => {
    writeFileSync(join(dir, 'node-id'), 'n1');
    await becomeWorker(dir, { caPem: 'ca', certPem: 'cert', keyPem: 'key' }, { nodeId: 'n1', managers: [] });
    expect(existsSync(join(dir, 'node-id'))).toBe(false);
    expect(existsSync(join(dir, ROLE_SWITCH_FILE))).toBe(false);
    await expect(checkRoleSwitch(dir, false)).resolves.toBeUndefined();
  });

  it('writes a demotion killed midway again from its mark: the worker state, no manager state', async () => {
    identity();
    writeFileSync(join(dir, 'node-id'), 'n1');
    mkdirSync(join(dir, 'raft'));
    const worker = {
      cert: { caPem: 'ca', certPem: 'worker-cert', keyPem: 'key' },
      state: { nodeId: 'n1', managers: ['10.0.0.1:2377'] },
    };
    // Killed right after the mark: the manager's state is all still there.
    await beginRoleSwitch(dir, 'worker', worker);
    await checkRoleSwitch(dir, false);
    expect(existsSync(join(dir, 'raft'))).toBe(false);
    expect(existsSync(join(dir, 'node-id'))).toBe(false);
    expect(readFileSync(join(dir, 'certs', 'node.crt'), 'utf8')).toBe('worker-cert');
    expect(JSON.parse(readFileSync(join(dir, 'worker.json'), 'utf8'))).toEqual(worker.state);
    expect(existsSync(join(dir, ROLE_SWITCH_FILE))).toBe(false);
  });

  it('changes nothing for a node that was not switching', async () => {
    await expect(checkRoleSwitch(dir, false)).resolves.toBeUndefined();
  });
});
