#!/usr/bin/env node
// The `skiff` command: runs the built CLI (setup builds it into dist/).
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`skiff: not built yet; run ${join(root, 'scripts', 'setup')} first\n`);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
