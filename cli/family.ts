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

/** The family a command line runs, or undefined when it needs them all (help, completion, typos). */
export function familyOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (GLOBAL_FLAGS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    if (a === VERSION_ONLY) return VERSION_ONLY;
    const family = REGISTERED_BY[a] ?? a;
    return family !== 'completion' && COMMAND_FAMILIES.some(([name]) => name === family) ? family : undefined;
  }
  const asksVersion = argv.some((a) => a === '-v' || a === '--version');
  return asksVersion && !argv.some((a) => a === '-h' || a === '--help') ? VERSION_ONLY : undefined;
}
