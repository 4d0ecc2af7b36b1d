import { Command } from 'commander';
import yaml from 'js-yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { composeCommandOf, registerComposeConfig } from '../../../cli/commands/compose-config.js';
import { CliExit } from '../../../cli/output.js';
import { withProject } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('skiff').exitOverride();
  registerComposeConfig(composeCommandOf(program));
  let code = 0;
  try {
    await program.parseAsync(['compose', 'config', ...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CliExit) code = e.exitCode;
    else throw e;
  } finally {
    vi.restoreAllMocks();
  }
  return { out, err, code };
}

const tree = {
  'compose.yaml':
    'services:\n  web:\n    image: nginx\n    ports: ["80:80"]\n    volumes: [data:/d]\n  tool:\n    image: busybox\n    profiles: [tools]\nvolumes:\n  data:\n',
  'compose.prod.yaml': 'services:\n  web:\n    image: nginx:prod\n',
  'prod.env': 'X=1\n',
};

describe('skiff compose config', () => {
  it('prints the normalized model as YAML or JSON', async () => {
    await withProject(tree, async (dir) => {
      const y = await run(['-f', `${dir}/compose.yaml`, '-f', `${dir}/compose.prod.yaml`, '-p', 'demo']);
      expect(y.code).toBe(0);
      const doc = yaml.load(y.out) as {
        name: string;
        services: Record<string, { image: string; ports: unknown[] }>;
      };
      expect(doc.name).toBe('demo');
      expect(doc.services.web!.image).toBe('nginx:prod');
      expect(doc.services.web!.ports).toEqual([
        { mode: 'ingress', target: 80, published: '80', protocol: 'tcp' },
      ]);
      const j = await run([
        '-f',
        `${dir}/compose.yaml`,
        '--format',
        'json',
        '--profile',
        'tools',
        '--env-file',
        `${dir}/prod.env`,
      ]);
      expect(Object.keys((JSON.parse(j.out) as { services: object }).services)).toEqual(['tool', 'web']);
    });
  });

  it('lists services and volumes', async () => {
    await withProject(tree, async (dir) => {
      expect((await run(['--project-directory', dir, '--services'])).out).toBe('web\n');
      expect((await run(['--project-directory', dir, '--volumes'])).out).toBe('data\n');
    });
  });

  it('prints each error on its own line with file:line:col and exits 1', async () => {
    await withProject(
      { 'compose.yaml': 'services:\n  web:\n    image: 1\n    ports: ["x"]\n    tty: maybe\n' },
      async (dir) => {
        const r = await run(['-f', `${dir}/compose.yaml`]);
        expect(r.code).toBe(1);
        expect(r.out).toBe('');
        const lines = r.err.trim().split('\n');
        expect(lines).toEqual([
          expect.stringMatching(/compose\.yaml:3:5: services\.web\.image: must be a string$/),
          expect.stringMatching(/compose\.yaml:4:13: services\.web\.ports\[0\]: "x" is not a port/),
        ]);
      },
    );
  });
});
