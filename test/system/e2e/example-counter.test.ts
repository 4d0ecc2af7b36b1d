// examples/counter as a user runs it: the page answers on its published port, the
// count survives `down` / `up` (named volume), and `down -v` removes the volume.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const EXAMPLE = resolve(import.meta.dirname, '../../../examples/counter');

describe('examples/counter', () => {
  let node: TestNode;
  let port: number;
  const compose = (...args: string[]) =>
    node.skiff(['compose', ...args], { cwd: EXAMPLE, env: { COUNTER_PORT: String(port) } });
  const visit = () =>
    waitFor(
      async () => {
        const r = await runCommand('busybox', [
          'wget',
          '-q',
          '-O',
          '-',
          `http://127.0.0.1:${port}/cgi-bin/page`,
        ]);
        return /id="count">(\d+)</.exec(r.stdout)?.[1];
      },
      { what: `the counter page on port ${port}`, timeoutMs: 30_000 },
    ).then(Number);

  beforeAll(async () => {
    node = testNode();
    port = await freePort();
    execFileSync('bash', [resolve(EXAMPLE, '../../scripts/build-example-image')], {
      env: node.env,
      stdio: 'pipe',
    });
  });

  afterAll(async () => {
    await compose('down', '-v');
    await node.destroy();
  });

  it('counts visits, keeps the count across down and up, and forgets it with down -v', async () => {
    const up = await compose('up', '-d');
    expect(up.code, up.stderr).toBe(0);
    expect(await visit()).toBe(1);
    expect(await visit()).toBe(2);

    const ps = await compose('ps');
    expect(ps.stdout).toMatch(/counter-store-1 .* Up .*\(healthy\)/);
    expect(ps.stdout).toMatch(/counter-web-1 .* Up /);

    expect((await compose('down')).code).toBe(0);
    expect((await compose('up', '-d')).code).toBe(0);
    expect(await visit()).toBe(3);

    const down = await compose('down', '-v');
    expect(down.stderr).toContain('Removing volume counter_counter-data');
    expect(existsSync(join(node.stateDir, 'volumes', 'counter_counter-data'))).toBe(false);
  });
});
