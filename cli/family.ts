// Which command family a command line runs, from its words alone: the start of every command
// (cli/main.ts picks the family's own bundle by it) and buildProgram's choice of what to load.
import { COMMAND_FAMILIES, REGISTERED_BY } from './commands/index.js';

const GLOBAL_FLAGS_WITH_VALUE = new Set([
  '-H',
  '--host',
  '-c',
  '--context',
  '--tlscacert',
  '--tlscert',
  '--tlskey',
]);

/** What `version` and `-v` need: no family at all (buildProgram always adds `version`). */
export const VERSION_ONLY = 'version';

/** Where the command's first word is in `argv`, after the global flags; -1 when there is none. */
function commandWordAt(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (GLOBAL_FLAGS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return i;
  }
  return -1;
}

/** The word right after the command's first (`run` of `daemon run`), unless it is a flag. */
export function subcommandOf(argv: readonly string[]): string | undefined {
  const at = commandWordAt(argv);
  const next = at < 0 ? undefined : argv[at + 1];
  return next === undefined || next.startsWith('-') ? undefined : next;
}

/** The family a command line runs, or undefined when it needs them all (help, completion, typos). */
export function familyOf(argv: readonly string[]): string | undefined {
  const at = commandWordAt(argv);
  if (at >= 0) {
    const a = argv[at] ?? '';
    if (a === VERSION_ONLY) return VERSION_ONLY;
    const family = REGISTERED_BY[a] ?? a;
    return family !== 'completion' && COMMAND_FAMILIES.some(([name]) => name === family) ? family : undefined;
  }
  const asksVersion = argv.some((a) => a === '-v' || a === '--version');
  return asksVersion && !argv.some((a) => a === '-h' || a === '--help') ? VERSION_ONLY : undefined;
}
