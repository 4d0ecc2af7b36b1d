// A command line loads only its own command family; help, completion and typos load all.
import { describe, expect, it } from 'vitest';
import { subcommandOf } from '../../../cli/family.js';
import { buildProgram, familyOf } from '../../../cli/program.js';

describe('familyOf', () => {
  it.each([
    [['stack', 'deploy', '-c', 'a.yaml', 'x'], 'stack'],
    [['-H', 'unix:///run/x.sock', 'service', 'ls'], 'service'],
    [['--host', 'tcp://m:2377', '--tlscert', 'c.pem', 'compose', 'up'], 'compose'],
    [['login', 'registry.example'], 'image'],
    [['--context', 'lab', 'node', 'ls'], 'node'],
    [['-c', 'lab', 'context', 'show'], 'context'],
    [['daemon', 'run'], 'daemon'],
    // version loads no family: buildProgram has it always.
    [['version'], 'version'],
    [['-v'], 'version'],
    [['-H', 'unix:///run/x.sock', '--version'], 'version'],
  ])('%j runs the %s family', (argv, family) => {
    expect(familyOf(argv)).toBe(family);
  });

  it.each([
    [[]],
    [['--help']],
    [['completion', 'bash']],
    [['stak', 'ls']],
    [['help', 'stack']],
    [['-v', '--help']],
  ])('%j needs every command', (argv) => {
    expect(familyOf(argv)).toBeUndefined();
  });

  it.each([
    [['daemon', 'run', '--state-dir', '/s'], 'run'],
    [['-H', 'unix:///run/x.sock', 'daemon', 'status'], 'status'],
    [['compose', '-f', 'a.yaml', 'up'], undefined],
    [['version'], undefined],
    [[], undefined],
  ])('%j has the subcommand %s', (argv, sub) => {
    expect(subcommandOf(argv)).toBe(sub);
  });

  it('builds only that family, with version', async () => {
    const program = await buildProgram('stack');
    expect(program.commands.map((c) => c.name()).sort()).toEqual(['stack', 'version']);
    expect((await buildProgram('version')).commands.map((c) => c.name())).toEqual(['version']);
    const all = await buildProgram();
    expect(all.commands.map((c) => c.name())).toEqual(
      expect.arrayContaining([
        'compose',
        'stack',
        'service',
        'node',
        'cluster',
        'image',
        'login',
        'lab',
        'completion',
      ]),
    );
  });
});
