// `--host tcp://…` / SKIFF_HOST against the TCP API of a real `skiff cluster init` node:
// with a manager's certificate the CLI works; without one it is refused with one clear
// line and a hint.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('skiff --host tcp:// with TLS client certificates', () => {
  let node: TestNode;
  let host: string;
  let certs: string;
  let empty: string;

  beforeAll(async () => {
    node = testNode();
    const port = await freePort();
    host = `tcp://127.0.0.1:${port}`;
    const init = await node.skiff([
      'cluster',
      'init',
      '--advertise-addr',
      '127.0.0.1',
      '--port',
      String(port),
    ]);
    expect(init.code, init.stderr).toBe(0);
    // A user's copy of a manager's identity, in docker's file names.
    certs = mkdtempSync(join(tmpdir(), 'skiff-certs-'));
    const own = join(node.stateDir, 'certs');
    copyFileSync(join(own, 'ca.crt'), join(certs, 'ca.pem'));
    copyFileSync(join(own, 'node.crt'), join(certs, 'cert.pem'));
    copyFileSync(join(own, 'node.key'), join(certs, 'key.pem'));
    empty = mkdtempSync(join(tmpdir(), 'skiff-nocerts-'));
  }, 120_000);

  afterAll(async () => {
    await node?.destroy();
    rmSync(certs, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }, 120_000);

  it('works with certificates from flags, SKIFF_CERT_PATH, or the node’s own identity', async () => {
    const flags = await node.skiff(
      [
        '--host',
        host,
        '--tlscacert',
        join(certs, 'ca.pem'),
        '--tlscert',
        join(certs, 'cert.pem'),
        '--tlskey',
        join(certs, 'key.pem'),
        'node',
        'ls',
      ],
      { env: { SKIFF_CERT_PATH: empty } },
    );
    expect(flags.stderr).toBe('');
    expect(flags.stdout).toMatch(/^ID\s+HOSTNAME\s+STATUS/);
    expect(flags.stdout).toMatch(/Ready\s+Active\s+Leader/);
    expect(flags.code).toBe(0);

    const env = await node.skiff(['node', 'ls', '-q'], { env: { SKIFF_HOST: host, SKIFF_CERT_PATH: certs } });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout.trim()).toMatch(/^[a-z0-9]{25}$/);

    // ~/.skiff, the default directory; and compose commands go the same way.
    const home = join(certs, 'home');
    mkdirSync(join(home, '.skiff'), { recursive: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) copyFileSync(join(certs, f), join(home, '.skiff', f));
    const fromHome = await node.skiff(['--host', host, 'compose', '-p', 'nothing', 'ps', '-q'], {
      env: { HOME: home, SKIFF_STATE_ROOT: empty },
    });
    expect(fromHome).toEqual({ code: 0, stdout: '', stderr: '' });

    // On the manager node itself, its own certificate is found without flags.
    const own = await node.skiff(['--host', host, 'service', 'ls', '-q']);
    expect(own.code, own.stderr).toBe(0);
  }, 60_000);

  it('is refused without a client certificate, with one clear line and a hint', async () => {
    const none = await node.skiff(['--host', host, 'node', 'ls'], {
      env: { SKIFF_CERT_PATH: empty, SKIFF_STATE_ROOT: empty },
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^error: no TLS certificates to talk to the manager at tcp:\/\/127\.0\.0\.1:\d+\nhint: .*--tlscert.*\n$/,
    );

    // The CA alone: the TLS session opens, and the manager itself refuses the request.
    const caOnly = await node.skiff(['--host', host, '--tlscacert', join(certs, 'ca.pem'), 'node', 'ls']);
    expect(caOnly.code).toBe(1);
    expect(caOnly.stderr).toMatch(
      /^error: a client certificate from this cluster's CA is required\nhint: .+\n$/,
    );
    expect(caOnly.stdout).toBe('');
  }, 60_000);

  it('reaches the manager through a context: certificates copied in, picked by use, --context or SKIFF_CONTEXT', async () => {
    const cfg = join(mkdtempSync(join(tmpdir(), 'skiff-ctx-')), 'config');
    const src = mkdtempSync(join(tmpdir(), 'skiff-ctx-certs-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) copyFileSync(join(certs, f), join(src, f));
    // No other way to find certificates: only the context's may work.
    const env = { SKIFF_CONFIG: cfg, SKIFF_CERT_PATH: empty, SKIFF_STATE_ROOT: empty, HOME: empty };
    const run = (args: string[], more: Record<string, string> = {}) =>
      node.skiff(args, { env: { ...env, ...more } });
    try {
      const endpoint = `host=${host},ca=${join(src, 'ca.pem')},cert=${join(src, 'cert.pem')},key=${join(src, 'key.pem')}`;
      const created = await run([
        'context',
        'create',
        'remote',
        '--description',
        'the lab',
        '--docker',
        endpoint,
      ]);
      expect(created, created.stderr).toMatchObject({ code: 0, stdout: 'remote\n' });
      rmSync(src, { recursive: true, force: true }); // the context keeps its own copy
      expect(statSync(join(cfg, 'contexts.json')).mode & 0o777).toBe(0o600);
      expect(statSync(cfg).mode & 0o777).toBe(0o700);
      expect(
        (await run(['context', 'create', 'nowhere', '--docker', 'host=unix:///nonexistent/ctx.sock'])).code,
      ).toBe(0);

      const used = await run(['context', 'use', 'remote']);
      expect(used).toMatchObject({ code: 0, stdout: 'remote\n' });
      const nodes = await run(['node', 'ls', '-q']);
      expect(nodes.code, nodes.stderr).toBe(0);
      expect(nodes.stdout.trim()).toMatch(/^[a-z0-9]{25}$/);
      expect((await run(['context', 'show'])).stdout).toBe('remote\n');
      expect((await run(['context', 'ls'])).stdout).toMatch(
        /^remote \*\s+the lab\s+tcp:\/\/127\.0\.0\.1:\d+\s*$/m,
      );
      expect((await run(['context', 'inspect', '-f', '{{.Endpoints.docker.Host}}'])).stdout).toBe(
        `${host}\n`,
      );

      // --context, then SKIFF_CONTEXT, win over `use`; SKIFF_HOST over SKIFF_CONTEXT.
      for (const [args, more, where] of [
        [['--context', 'nowhere', 'node', 'ls'], {}, '/nonexistent/ctx.sock'],
        [['node', 'ls'], { SKIFF_CONTEXT: 'nowhere' }, '/nonexistent/ctx.sock'],
        [
          ['node', 'ls'],
          { SKIFF_CONTEXT: 'remote', SKIFF_HOST: 'unix:///nonexistent/env.sock' },
          '/nonexistent/env.sock',
        ],
      ] as const) {
        const r = await run([...args], more);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(where);
      }
      const both = await run(['--context', 'remote', '--host', host, 'node', 'ls']);
      expect(both.code).toBe(1);
      expect(both.stderr).toContain('either give --host or --context');

      const inUse = await run(['context', 'rm', 'remote']);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toContain('is in use');
      expect((await run(['context', 'rm', '-f', 'remote', 'nowhere'])).code).toBe(0);
      expect((await run(['context', 'ls', '-q'])).stdout).toBe('default\n');
    } finally {
      rmSync(join(cfg, '..'), { recursive: true, force: true });
      rmSync(src, { recursive: true, force: true });
    }
  }, 60_000);
});
