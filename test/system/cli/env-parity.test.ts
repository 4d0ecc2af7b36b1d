// One compose file, with a `.env` and an `env_file`, gives the same container
// environment under `compose up` and under `stack deploy` (docker's two tools disagree
// here; skiff's one loader must not).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

/** A compose interpolation `${NAME}`, written so that it is not a template placeholder. */
const ref = (name: string) => `$\{${name}}`;

describe('the same environment under compose up and stack deploy', () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-env-'));
    const imp = await importBusybox(node, dir, 'env\n', 'localhost/env-busybox:1');
    expect(imp.code, imp.stderr).toBe(0);
    writeFileSync(
      join(dir, '.env'),
      ['TAG=1', 'GREETING=hello from .env', 'ONLY_IN_DOTENV=not passed', ''].join('\n'),
    );
    writeFileSync(
      join(dir, 'app.env'),
      ['# comment', 'FROM_ENV_FILE=file value', 'OVERRIDDEN=by env_file', 'QUOTED="a b"', ''].join('\n'),
    );
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'services:',
        '  app:',
        `    image: localhost/env-busybox:${ref('TAG')}`,
        '    command: ["sleep", "3600"]',
        '    stop_grace_period: 1s',
        '    env_file: app.env',
        '    environment:',
        `      GREETING: ${ref('GREETING')}`,
        `      DEFAULTED: ${ref('NOT_SET:-fallback')}`,
        '      OVERRIDDEN: by environment',
        // One network for both deployments: a node allocates subnets from the host's routes
        // as they were at its start, and other tests' nodes may take new ones meanwhile.
        'networks:',
        '  default:',
        '    name: envnet',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await node?.skiff(['stack', 'rm', 'envs'], { cwd: dir });
    await node?.skiff(['compose', '-p', 'envc', 'down'], { cwd: dir });
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  /** The container's environment, without what differs per container by design. */
  const envOf = async (project: string): Promise<string[]> => {
    const r = await node.skiff(['compose', '-p', project, 'exec', '-T', 'app', 'env'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('HOSTNAME='))
      .sort();
  };

  it('compares the environments of the running containers', async () => {
    const up = await node.skiff(['compose', '-p', 'envc', 'up', '-d'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const deploy = await node.skiff(['stack', 'deploy', '--wait', '-c', 'compose.yaml', 'envs'], {
      cwd: dir,
    });
    expect(deploy.code, deploy.stderr).toBe(0);

    const fromCompose = await envOf('envc');
    const fromStack = await envOf('envs');
    expect(fromStack).toEqual(fromCompose);
    // And it is the environment the files say, not merely the same one.
    expect(fromCompose).toEqual(
      expect.arrayContaining([
        'GREETING=hello from .env',
        'DEFAULTED=fallback',
        'FROM_ENV_FILE=file value',
        'OVERRIDDEN=by environment',
        'QUOTED=a b',
      ]),
    );
    expect(fromCompose.some((l) => l.startsWith('ONLY_IN_DOTENV='))).toBe(false);

    // --quiet lists only the task IDs, one a line, cut to 12 characters as docker's.
    const ps = await node.skiff(['stack', 'ps', '-q', 'envs'], { cwd: dir });
    expect(ps.stdout).toMatch(/^([a-z0-9]{12}\n)+$/);
  }, 240_000);
});
