// What a manager keeps beside its raft state (`<stateDir>/managers.json`): the API
// addresses of the cluster's managers, from its join or promotion (saved before its
// identity) and kept current from its store. Raft knows its peers' raft addresses only,
// and the store may be empty (a node demoted before its raft heard from the leader):
// these are whom a manager that cannot start asks for its role (role-from-managers.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../disk/index.js';

export const MANAGERS_FILE = 'managers.json';

/** The managers' API addresses (host:port) this manager last knew; [] when it knows none. */
export async function readManagers(stateDir: string): Promise<string[]> {
  const file = join(stateDir, MANAGERS_FILE);
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { managers?: unknown };
  return Array.isArray(parsed.managers)
    ? parsed.managers.filter((a): a is string => typeof a === 'string')
    : [];
}

export async function writeManagers(stateDir: string, managers: string[]): Promise<void> {
  await writeFileDurable(join(stateDir, MANAGERS_FILE), JSON.stringify({ managers }), { mode: 0o600 });
}
