// The command line of this very skiff, for the processes it starts of itself (the local
// node, lab hosts): the build — the bundle (dist/skiff/, whose chunks sit beside its
// main.js) or the compiled tree (dist/cli/) — or, in development, the sources through tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function skiffCommand(): [string, ...string[]] {
  const here = dirname(fileURLToPath(import.meta.url));
  if (import.meta.url.endsWith('.ts')) return [process.execPath, '--import', 'tsx', join(here, 'main.ts')];
  const beside = join(here, 'main.js');
  return [process.execPath, existsSync(beside) ? beside : join(here, '..', 'main.js')];
}
