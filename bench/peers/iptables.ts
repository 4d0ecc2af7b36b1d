// Undoing what a daemon did to iptables while leaving everyone else's rules alone:
// compare `iptables-save` before and after, remove the added rules and chains that
// match the daemon's signature, and put changed built-in chain policies back.
import { runCommand } from '../lib/index.js';

export interface RuleSet {
  /** table → chain → policy ('-' for user chains). */
  chains: Map<string, Map<string, string>>;
  /** table → rule lines (`-A CHAIN …`) in order. */
  rules: Map<string, string[]>;
}

export function parseSave(text: string): RuleSet {
  const chains = new Map<string, Map<string, string>>();
  const rules = new Map<string, string[]>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      chains.set(table, new Map());
      rules.set(table, []);
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      chains.get(table)?.set(name!, policy!);
    } else if (line.startsWith('-A ')) {
      rules.get(table)?.push(line);
    }
  }
  return { chains, rules };
}

/**
 * The `iptables-restore --noflush` script that takes `after` back to `before` for what
 * `isOurs` claims (chain names and rule lines), per table. Pure.
 */
export function undoScript(
  before: RuleSet,
  after: RuleSet,
  isOurs: (chainOrRule: string) => boolean,
): Map<string, string[]> {
  const scripts = new Map<string, string[]>();
  for (const [table, afterChains] of after.chains) {
    const beforeChains = before.chains.get(table) ?? new Map<string, string>();
    const lines: string[] = [];
    const newChains = [...afterChains.keys()].filter((c) => !beforeChains.has(c) && isOurs(c));
    const beforeRules = new Map<string, number>();
    for (const r of before.rules.get(table) ?? []) beforeRules.set(r, (beforeRules.get(r) ?? 0) + 1);
    for (const rule of after.rules.get(table) ?? []) {
      const left = beforeRules.get(rule) ?? 0;
      if (left > 0) {
        beforeRules.set(rule, left - 1);
        continue;
      }
      const chain = rule.split(' ')[1]!;
      // Rules inside a chain we delete go with the flush.
      if (newChains.includes(chain) || !isOurs(rule)) continue;
      lines.push(`-D ${rule.slice(3)}`);
    }
    for (const c of newChains) lines.push(`-F ${c}`);
    for (const c of newChains) lines.push(`-X ${c}`);
    for (const [chain, policy] of afterChains) {
      const was = beforeChains.get(chain);
      if (policy !== '-' && was && was !== '-' && was !== policy) lines.push(`-P ${chain} ${was}`);
    }
    if (lines.length > 0) scripts.set(table, lines);
  }
  return scripts;
}

export async function saveRules(family: 'ipv4' | 'ipv6'): Promise<RuleSet> {
  const r = await runCommand(family === 'ipv4' ? 'iptables-save' : 'ip6tables-save', []).catch(
    () => undefined,
  );
  return parseSave(r && r.code === 0 ? r.stdout : '');
}

/** Applies undoScript's output; returns what it did, throws with iptables' message on failure. */
export async function undoRules(
  family: 'ipv4' | 'ipv6',
  before: RuleSet,
  isOurs: (s: string) => boolean,
): Promise<string[]> {
  const after = await saveRules(family);
  const done: string[] = [];
  const failures: string[] = [];
  for (const [table, lines] of undoScript(before, after, isOurs)) {
    const input = `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
    const restore = family === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore';
    const r = await runCommand(restore, ['--noflush'], { input });
    if (r.code === 0) done.push(...lines.map((l) => `${family} ${table} ${l}`));
    else failures.push(`${restore} (${table}): ${r.stderr.trim()}`);
  }
  if (failures.length > 0) throw new Error(`restoring iptables failed: ${failures.join('; ')}`);
  return done;
}
