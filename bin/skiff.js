#!/usr/bin/env node
// The `skiff` command: runs the built CLI (setup builds it into dist/).
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
// The bundle (dist/skiff/, esbuild over the compiled tree and the npm packages: ~270 ESM
// files and ~550 CommonJS ones become a few chunks; a node is ready with about half the
// CPU), unless it is older than the compiled tree (a `tsc` build without `npm run build`).
const bundle = join(root, 'dist', 'skiff', 'main.js');
const entry =
  existsSync(bundle) && existsSync(compiled) && statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs
    ? bundle
    : compiled;
if (!existsSync(entry)) {
  process.stderr.write(`skiff: not built yet; run ${join(root, 'scripts', 'setup')} first\n`);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
