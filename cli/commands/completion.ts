// `skiff completion bash|zsh`: shell completion generated from the command tree
// itself, so it cannot drift from the commands and flags skiff really has.
import type { Command } from 'commander';
import { CliUsageError } from '../output.js';

interface Node {
  path: string[];
  words: string[];
}

function walk(cmd: Command, path: string[] = []): Node[] {
  const subs = cmd.commands.filter((c) => c.name() !== 'help');
  const flags = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  const here: Node = { path, words: [...subs.map((c) => c.name()), ...flags, '--help'] };
  return [here, ...subs.flatMap((c) => walk(c, [...path, c.name()]))];
}

export function bashCompletion(program: Command): string {
  const cases = walk(program)
    .map((n) => `    "${n.path.join(' ')}") words="${n.words.join(' ')}" ;;`)
    .join('\n');
  return `# skiff bash completion: source <(skiff completion bash)
_skiff() {
  local cur path words i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ -z "$path" ]]; then path="$w"; else path="$path $w"; fi
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _skiff skiff
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef skiff
# skiff zsh completion: source <(skiff completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print shell completion for bash or zsh (e.g. source <(skiff completion bash))')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
      else throw new CliUsageError(`unknown shell "${shell}": use bash or zsh`);
    });
}
