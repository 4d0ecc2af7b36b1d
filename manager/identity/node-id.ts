// A node's ID, kept in `<stateDir>/node-id` from its first start on.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';
import { newObjectId } from '../store/index.js';

export const NODE_ID_FILE = 'node-id';

export async function loadOrCreateNodeId(stateDir: string): Promise<string> {
  const file = join(stateDir, NODE_ID_FILE);
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-z]{25}$/.test(id)) return id;
    throw new SkiffError('corrupt', `${file} does not hold a node ID`, {
      hint: 'remove the file to give this node a new identity',
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const id = newObjectId();
  await writeFileDurable(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export async function saveNodeId(stateDir: string, nodeId: string): Promise<void> {
  await writeFileDurable(join(stateDir, NODE_ID_FILE), `${nodeId}\n`, { mode: 0o600 });
}
