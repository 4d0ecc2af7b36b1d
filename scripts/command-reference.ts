// The command reference (docs/commands.md), rendered from the CLI's own help so the
// two cannot drift: every visible command, depth first, in the order `--help` lists them.
import type { Command } from 'commander';

/**
 * The reference as the CLI's help prints it on a machine with the default settings:
 * defaults some options take from SKIFF_* variables (state and run directories, log
 * level) are read when the CLI is loaded, so it is loaded with those unset.
 */
export async function commandReference(): Promise<string> {
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith('SKIFF_'));
  for (const [k] of saved) delete process.env[k];
  try {
    const { buildProgram } = await import('../cli/index.js');
    return renderCommandReference(await buildProgram());
  } finally {
    for (const [k, v] of saved) process.env[k] = v;
  }
}

/** Help text is wrapped at this width whatever the terminal, so the output is stable. */
const HELP_WIDTH = 100;

export function renderCommandReference(program: Command): string {
  const sections: string[] = [];
  const index: string[] = [];
  const visit = (cmd: Command, path: string[]) => {
    cmd.configureHelp({ helpWidth: HELP_WIDTH });
    cmd.configureOutput({ getOutHelpWidth: () => HELP_WIDTH, getOutHasColors: () => false });
    const name = path.join(' ');
    const depth = Math.max(0, path.length - 2);
    index.push(`${'  '.repeat(depth)}- [\`${name}\`](#${anchor(name)})`);
    sections.push(`## ${name}\n\n\`\`\`text\n${cmd.helpInformation().trimEnd()}\n\`\`\`\n`);
    const help = cmd.createHelp();
    for (const sub of help.visibleCommands(cmd)) {
      // commander adds an implicit `help` command to the list; it is not one of ours.
      if (cmd.commands.includes(sub)) visit(sub, [...path, sub.name()]);
    }
  };
  visit(program, [program.name()]);
  return [
    '# Command reference',
    '',
    "<!-- Generated from the CLI's own help by `npm run docs:commands`; do not edit by hand. -->",
    '',
    'Every `skiff` command, with the text its `--help` prints.',
    '',
    ...index,
    '',
    ...sections,
  ].join('\n');
}

/** GitHub's heading anchors: lowercase, spaces to dashes, punctuation dropped. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}
