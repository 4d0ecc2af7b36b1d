// A usage error exits 2 with one error line and the command's usage line; other
// errors exit 1 with one line and a hint.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../cli/program.js';

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await runCli(args), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('usage errors', () => {
  afterEach(() => vi.restoreAllMocks());

  it('name the command’s usage line when an argument is missing or a flag unknown', async () => {
    const missing = await run(['compose', 'exec']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      "error: missing required argument 'service'\nUsage: skiff compose exec [options] <service> <command...>\nSee 'skiff compose exec --help'.\n",
    );
    const unknown = await run(['service', 'ls', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--bogus'\nUsage: skiff service ls [options]\n");
  });

  it('name it too when the command itself finds a bad value', async () => {
    const bad = await run(['compose', 'exec', '--index', '0', 'web', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'error: --index must be a positive integer, got "0"\nUsage: skiff compose exec [options] <service> <command...>\nSee \'skiff compose exec --help\'.\n',
    );
  });

  it('exit 2 from a dry run that fails, since 1 there means "something would change"', async () => {
    const r = await run(['stack', 'deploy', '--dry-run', '-c', '/nonexistent/stack.yaml', 'app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/stack.yaml');
    const format = await run(['compose', 'up', '--format', 'json']);
    expect(format.code).toBe(2);
    expect(format.stderr).toBe(
      "error: --format goes with --dry-run\nUsage: skiff compose up [options] [service...]\nSee 'skiff compose up --help'.\n",
    );
  });

  it('give other errors one line and a hint, exit 1', async () => {
    // Fails before any connection: the CA file is not there.
    const r = await run(['--host', 'tcp://127.0.0.1:1', '--tlscacert', '/nonexistent/ca.pem', 'node', 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: cannot read the CA certificate \/nonexistent\/ca\.pem: [^\n]+\nhint: [^\n]+\n$/,
    );
  });

  it('refuse a bad context endpoint or name before writing anything', async () => {
    const bad = await run(['context', 'create', 'x', '--docker', 'host=http://m:2377']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--docker: host "http://m:2377" is not unix:///path or tcp://HOST:PORT');
    const unknown = await run(['context', 'create', 'x', '--docker', 'host=tcp://m:2377,colour=red']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown key "colour"');
    const skip = await run(['context', 'create', 'x', '--docker', 'host=tcp://m:2377,skip-tls-verify=true']);
    expect(skip.code).toBe(1);
    expect(skip.stderr).toContain('skip-tls-verify is not supported');
    const reserved = await run(['context', 'create', 'default']);
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toContain('"default" is a reserved context name');
    const missing = await run(['--context', 'no-such-context', 'service', 'ls']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('context "no-such-context" does not exist');
  });

  it('refuse what compose kill and cp cannot take, before any connection', async () => {
    const kill = await run(['compose', 'kill', '-s', 'NOT A SIGNAL', 'web']);
    expect(kill.code).toBe(2);
    expect(kill.stderr).toContain('invalid signal "NOT A SIGNAL"');
    const local = await run(['compose', 'cp', './a', './b']);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('one of source and destination must be SERVICE:PATH');
    const owners = await run(['compose', 'cp', '-a', 'web:/etc/hosts', '.']);
    expect(owners.code).toBe(1);
    expect(owners.stderr).toMatch(
      /^error: compose cp -a \(keep owners\) is not supported by skiff yet\nhint: .+\n$/,
    );
    const scale = await run(['compose', 'scale', 'web']);
    expect(scale.code).toBe(2);
    expect(scale.stderr).toContain('"web" is not SERVICE=REPLICAS');
  });
});
