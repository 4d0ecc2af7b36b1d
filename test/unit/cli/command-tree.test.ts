// Walks every skiff command: each has a description, each flag says what it does, and
// the help a person reads lists exactly the flags the command accepts.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { bashCompletion } from '../../../cli/commands/completion.js';
import { buildProgram } from '../../../cli/index.js';

function all(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  const subs = cmd.commands.filter((c) => c.name() !== 'help');
  return [{ path: path.join(' ') || 'skiff', cmd }, ...subs.flatMap((c) => all(c, [...path, c.name()]))];
}

const program = await buildProgram();

describe('the command tree', () => {
  const commands = all(program);

  it('has the commands users of docker compose, stack and service expect', () => {
    const paths = new Set(commands.map((c) => c.path));
    for (const p of [
      'compose up',
      'compose down',
      'compose ps',
      'compose logs',
      'compose config',
      'compose exec',
      'compose run',
      'compose pull',
      'stack deploy',
      'stack rm',
      'service update',
      'service rollback',
      'image pull',
      'daemon status',
      'node ps',
      'network prune',
      'context create',
      'context ls',
      'context use',
      'context rm',
      'context inspect',
      'context show',
      ...[
        'ls',
        'top',
        'images',
        'port',
        'cp',
        'kill',
        'pause',
        'unpause',
        'rm',
        'create',
        'wait',
        'events',
        'scale',
        'version',
      ].map((c) => `compose ${c}`),
    ]) {
      expect(paths, p).toContain(p);
    }
  });

  it('has -q, --quiet where docker has it', () => {
    for (const p of [
      'compose ps',
      'compose pull',
      'compose config',
      'service ls',
      'service ps',
      'service create',
      'service update',
      'service rollback',
      'stack deploy',
      'stack services',
      'stack ps',
      'node ls',
      'node ps',
      'context ls',
      'compose ls',
      'compose images',
      'image ls',
      'image pull',
      'image push',
      'volume ls',
      'cluster join-token',
    ]) {
      const cmd = commands.find((c) => c.path === p)?.cmd;
      const quiet = cmd?.options.find((o) => o.long === '--quiet');
      expect(quiet?.short, `${p} -q`).toBe('-q');
    }
  });

  it('has --dry-run, and --format for its plan, where a deploy can be planned', () => {
    for (const p of ['stack deploy', 'compose up']) {
      const cmd = commands.find((c) => c.path === p)?.cmd;
      const dry = cmd?.options.find((o) => o.long === '--dry-run');
      expect(dry?.description, `${p} --dry-run`).toMatch(
        /exit 0 when nothing would change, 1 when something would, 2 or more on an error/,
      );
      expect(
        cmd?.options.some((o) => o.long === '--format'),
        `${p} --format`,
      ).toBe(true);
    }
  });

  it('has -f/--filter and --no-trunc on the ls and ps commands where docker has them', () => {
    const flag = (p: string, long: string) =>
      commands.find((c) => c.path === p)?.cmd.options.find((o) => o.long === long);
    for (const p of [
      'service ls',
      'service ps',
      'stack ps',
      'stack services',
      'node ls',
      'node ps',
      'image ls',
    ]) {
      expect(flag(p, '--filter')?.short, `${p} -f`).toBe('-f');
    }
    for (const p of ['service ps', 'stack ps', 'node ps', 'image ls', 'network ls']) {
      expect(flag(p, '--no-trunc'), `${p} --no-trunc`).toBeDefined();
    }
    for (const p of ['service ps', 'stack ps', 'node ps']) {
      expect(flag(p, '--no-resolve'), `${p} --no-resolve`).toBeDefined();
    }
    expect(flag('network prune', '--filter')).toBeDefined();
  });

  it.each(commands.map((c) => [c.path, c.cmd] as const))(
    '%s: described, and its help lists every flag',
    (_p, cmd) => {
      expect(cmd.description().length, 'description').toBeGreaterThan(5);
      const help = cmd.helpInformation();
      for (const o of cmd.options) {
        expect(o.description.length, `${o.flags} description`).toBeGreaterThan(3);
        expect(help).toContain(o.long ?? o.short ?? '');
      }
      const optionsSection = help.split(/^Options:$/m)[1]?.split(/^Commands:$/m)[0] ?? '';
      const flagsInHelp = [...optionsSection.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
      const accepted = new Set([...cmd.options.map((o) => o.long), '--help', '--version']);
      for (const f of flagsInHelp) expect(accepted, `help shows ${f}`).toContain(f);
    },
  );

  it('completes every command and flag in bash', () => {
    const script = bashCompletion(program);
    expect(script).toContain('"compose") words="');
    expect(script).toMatch(/"compose up"\) words="[^"]*--detach/);
    expect(script).toMatch(/"stack deploy"\) words="[^"]*--wait/);
  });
});
