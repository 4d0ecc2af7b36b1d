// Directories only their owner (root) may enter. mkdir's mode applies only to what it
// creates, and an existing directory keeps whatever mode an older skiff, an installer or
// an operator gave it: each is corrected here on every start.
import { chmodSync, mkdirSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';

/** Creates `dir` (and missing parents) with `mode` (default 0700) and sets it when it exists already. */
export async function privateDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  await chmod(dir, mode);
}

export function privateDirSync(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
}
