#!/usr/bin/env node
// The `skiff` command: runs the built CLI (setup builds it into dist/). CommonJS
// (bin/package.json), as the bundle's main.js: an ES module here would start Node's ES
// module loader at every command (~5 ms).
'use strict';
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const root = join(__dirname, '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
// The bundle (dist/skiff/, esbuild over the compiled tree and the npm packages: one
// CommonJS file per command family, the daemon's included, run through V8's code cache, and
// ES module chunks for help and completion), unless it is older than the compiled tree (a
// `tsc` build without `npm run build`).
const bundle = join(root, 'dist', 'skiff', 'main.js');
if (existsSync(bundle) && existsSync(compiled) && statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs) {
  require(bundle);
} else if (existsSync(compiled)) {
  import(pathToFileURL(compiled).href);
} else {
  process.stderr.write(`skiff: not built yet; run ${join(root, 'scripts', 'setup')} first\n`);
  process.exit(1);
}
