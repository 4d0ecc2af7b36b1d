// docs/commands.md is the CLI's own help: it must change with every command, option
// or description, so it cannot drift from what `skiff … --help` prints.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandReference, renderCommandReference } from '../../../scripts/command-reference.js';

describe('the command reference', () => {
  it('docs/commands.md is what the CLI prints today (regenerate with `npm run docs:commands`)', async () => {
    const committed = readFileSync(resolve(import.meta.dirname, '../../../docs/commands.md'), 'utf8');
    const current = await commandReference();
    // A readable failure: the first section that differs, not the whole file.
    const firstDiff = current.split('\n## ').find((s) => !committed.includes(s));
    expect(firstDiff, 'docs/commands.md is out of date: run `npm run docs:commands`').toBeUndefined();
    expect(current === committed, 'docs/commands.md is out of date: run `npm run docs:commands`').toBe(true);
  });

  it('lists every visible command with its help, nested commands under their parents', () => {
    const program = new Command('tool').description('a tool');
    const sub = program.command('thing').description('manage things');
    sub.command('make').description('make a thing').option('--big', 'a big one');
    program.command('secret', { hidden: true });
    const text = renderCommandReference(program);
    expect(text).toContain('- [`tool thing`](#tool-thing)\n  - [`tool thing make`](#tool-thing-make)');
    expect(text).toContain('## tool thing make\n\n```text\nUsage: tool thing make [options]\n\nmake a thing');
    expect(text).toContain('--big');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('## tool help');
  });
});
