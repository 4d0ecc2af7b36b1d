// The CLI's bundle, which bin/skiff.js runs (and so do the daemons it starts): esbuild over
// the compiled tree (tsc's output), split into chunks so that a command loads only its own
// family's code (cli/commands/index.ts). A command's start is mostly module loading:
// the packages are bundled in too (tree-shaken where they are ESM; one compile instead of
// files the loader resolves and compiles one by one: ~100 ESM files of zod and js-yaml were
// 60 ms of `stack deploy`, ~550 CommonJS files of fastify, grpc-js, prom-client, pino…
// ~140 ms of CPU at a node's start). CommonJS code bundled into ESM chunks needs `require`
// (for node: builtins and the odd computed require) and `__dirname`: each chunk's banner
// defines them.
//
// Besides, each command family gets a CommonJS bundle of its own (family-<name>-<hash>.cjs:
// the program with only that family's commands), which main.js runs through V8's code cache
// (cli/code-cache.ts): a cached run compiles next to nothing (`service ls` ~45 → ~25 ms of
// CPU above `node -e 0`, `compose ps` ~90 → ~50). The code cache works for scripts only, not
// for ES modules. The daemon's bundle holds the whole node (what node/ loads on demand is
// bundled in, initialised when first imported): a node's start is mostly compiling it.
//
//   node scripts/bundle-cli.mjs [compiled tree (dist)] [out dir (dist/skiff)]
//
// The out dir is not emptied first: a daemon started from an older bundle still finds the
// chunks it loads lazily.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/**
 * Packages left in node_modules: bundled, every node start would compile them for
 * nothing. grpc-js requires proto-loader (and protobufjs, ~500 KB) only for channelz and
 * ORCA, which skiff does not serve; fastify requires its schema compilers (ajv,
 * fast-json-stringify, ~600 KB) only for routes with schemas, which skiff's have not
 * (manager/api/server.ts), and light-my-request only for `inject`.
 */
const EXTERNAL = new Set([
  '@grpc/proto-loader',
  '@fastify/ajv-compiler',
  '@fastify/fast-json-stringify-compiler',
  'light-my-request',
]);
const BANNER = [
  "import { createRequire as __skiffCreateRequire } from 'node:module';",
  "import { dirname as __skiffDirname } from 'node:path';",
  "import { fileURLToPath as __skiffFileUrlToPath } from 'node:url';",
  'const require = __skiffCreateRequire(import.meta.url);',
  'const __filename = __skiffFileUrlToPath(import.meta.url);',
  'const __dirname = __skiffDirname(__filename);',
].join(' ');
const [compiled = 'dist', outdir = join(compiled, 'skiff')] = process.argv.slice(2);

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/** The npm packages' plugins, for both the ES module chunks and the families' CommonJS bundles. */
const PACKAGE_PLUGINS = [
  {
    // The compose schema (zod/mini) gets a copy of zod's core of its own, tree-shaken to what
    // mini uses (~120 KB less for every compose command to compile); shared with the
    // daemon's zod (classic, which uses all of it), the whole core would load.
    name: 'zod-mini-apart',
    setup(b) {
      b.onResolve({ filter: /^zod\/(mini|v4\/locales\/en\.js)$/ }, async (a) => {
        if (a.pluginData?.apart) return undefined;
        const r = await b.resolve(a.path, {
          kind: a.kind,
          resolveDir: a.resolveDir,
          pluginData: { apart: true },
        });
        return { path: r.path, namespace: 'zod-mini', sideEffects: false };
      });
      b.onResolve({ filter: /^\./, namespace: 'zod-mini' }, (a) => ({
        path: join(a.resolveDir, a.path),
        namespace: 'zod-mini',
        sideEffects: false,
      }));
      b.onLoad({ filter: /.*/, namespace: 'zod-mini' }, (a) => ({
        contents: readFileSync(a.path, 'utf8'),
        resolveDir: dirname(a.path),
        loader: 'js',
      }));
    },
  },
  {
    // zod's `z.locales` namespace holds its messages in 60-odd languages (~400 KB, which
    // every compose command would compile); skiff reports errors in English only.
    name: 'zod-english-only',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
        /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(a.resolveDir)
          ? { path: join(a.resolveDir, '..', 'locales', 'en.js'), namespace: 'zod-en' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (a) => ({
        contents: `export { default as en } from ${JSON.stringify(a.path)};`,
        resolveDir: dirname(a.path),
      }));
    },
  },
  {
    name: 'external-packages',
    setup(b) {
      // node: builtins (and the packages named above) stay imports.
      b.onResolve({ filter: /^[^./]/ }, (a) =>
        a.path.startsWith('node:') || EXTERNAL.has(packageOf(a.path))
          ? { path: a.path, external: true }
          : undefined,
      );
    },
  },
];

/**
 * The modules of cli/commands/ each family loads, read from the loaders' source (each is a
 * dynamic import of `./<module>.js`); completion needs them all (the ES module chunks).
 */
const commandsIndex = resolve(compiled, 'cli', 'commands', 'index.js');
const { COMMAND_FAMILIES } = await import(pathToFileURL(commandsIndex).href);
const familyModules = new Map([['version', []]]);
for (const [name, load] of COMMAND_FAMILIES) {
  if (name === 'completion') continue;
  familyModules.set(
    name,
    [...String(load).matchAll(/import\('(\.\/[\w-]+\.js)'\)/g)].map((m) => m[1]),
  );
}

/**
 * A CommonJS build of `entry` (ES module source) with `commandsIndex` as if it imported the
 * modules `modules` statically: a module that import() reaches, a lazy require in CommonJS,
 * would be bundled and initialised whole, with all it imports (the rest of lib/ with pino,
 * say). The other families' modules become a module that throws: main.js runs a family's
 * bundle for that family's command lines only.
 */
async function commonJsBuild(label, entry, modules, options) {
  return build({
    entryPoints: [{ in: 'skiff-entry', out: label }],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // import() becomes a lazy require: vm.Script runs no import() without a loader of its own.
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__skiffImportMetaUrl' },
    banner: { js: "var __skiffImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    outdir,
    metafile: true,
    logLevel: 'warning',
    ...options,
    plugins: [
      {
        name: 'one-family',
        setup(b) {
          b.onResolve({ filter: /^skiff-entry$/ }, (a) => ({ path: a.path, namespace: 'skiff-entry' }));
          b.onLoad({ filter: /.*/, namespace: 'skiff-entry' }, () => ({
            contents: entry,
            resolveDir: resolve(compiled, 'cli'),
          }));
          // pino has no side effects the CLI needs: a family that never logs (all but the
          // daemon's) leaves it out, instead of starting it and the worker_threads, assert…
          // it requires at every command.
          b.onResolve({ filter: /^pino$/ }, async (a) => {
            if (a.pluginData?.pino) return undefined;
            const r = await b.resolve(a.path, {
              kind: a.kind,
              resolveDir: a.resolveDir,
              pluginData: { pino: true },
            });
            return { path: r.path, sideEffects: false };
          });
          b.onLoad({ filter: /[\\/]cli[\\/]commands[\\/]index\.js$/ }, (a) => {
            if (a.path !== commandsIndex) return undefined;
            const imports = [];
            const contents = readFileSync(a.path, 'utf8').replace(
              /import\('(\.\/[\w-]+\.js)'\)/g,
              (_, spec) => {
                const id = `__skiffFamilyModule${imports.length}`;
                imports.push(
                  modules.includes(spec)
                    ? `import * as ${id} from ${JSON.stringify(spec)};`
                    : `const ${id} = { then() { throw new Error(${JSON.stringify(`skiff: ${spec} is not in the ${label} bundle`)}); } };`,
                );
                return `Promise.resolve(${id})`;
              },
            );
            return {
              contents: `${imports.join('\n')}\n${contents}`,
              resolveDir: dirname(a.path),
              loader: 'js',
            };
          });
        },
      },
      ...PACKAGE_PLUGINS,
    ],
  });
}

/**
 * `file` in ASCII: esbuild escapes strings but leaves comments and regular expressions
 * as they are, and one character past ASCII makes V8 hold the whole source in two bytes a
 * character (~3 ms more for `compose ps` to read and hash). A \uXXXX escape means the same
 * in a string, a regular expression or an identifier, and nothing in a comment.
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  if (!/[^\0-\x7f]/.test(text)) return;
  const ascii = text.replace(/(\\?)([^\0-\x7f])/gu, (_, slash, c) => {
    // after a backslash the escape would read differently: no bundle has one so far
    if (slash) throw new Error(`${file}: an escaped character past ASCII (${c}) cannot be escaped again`);
    const units = Array.from({ length: c.length }, (_u, i) => c.charCodeAt(i));
    return units.map((u) => `\\u${u.toString(16).padStart(4, '0')}`).join('');
  });
  writeFileSync(file, ascii);
}

/**
 * One family's CommonJS bundle (program.js's runCli, and started.js's onStarted for the
 * launcher): its file name, with a hash of its content.
 */
async function familyBundle(name, modules) {
  const program = JSON.stringify(resolve(compiled, 'cli', 'program.js'));
  const started = JSON.stringify(resolve(compiled, 'cli', 'started.js'));
  const entry = `export { runCli } from ${program};\nexport { onStarted } from ${started};`;
  const result = await commonJsBuild(`family-${name}`, entry, modules, {
    entryNames: '[name]-[hash]',
    outExtension: { '.js': '.cjs' },
  });
  const [file] = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.cjs'));
  asciiOnly(file);
  return basename(file);
}

// Families that load the same modules (network, secret, config) share one bundle.
const byModules = new Map();
for (const [name, modules] of familyModules) {
  const key = modules.join(' ');
  if (!byModules.has(key)) byModules.set(key, familyBundle(name, modules));
}
const familyBundles = {};
for (const [name, modules] of familyModules) familyBundles[name] = await byModules.get(modules.join(' '));

// The ES modules (help, completion): main.mjs and its chunks.
await build({
  entryPoints: [join(compiled, 'cli', 'main.js')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  outExtension: { '.js': '.mjs' },
  outdir,
  logLevel: 'warning',
  banner: { js: BANNER },
  plugins: PACKAGE_PLUGINS,
});

// main.js, CommonJS (package.json beside it says so): it runs a family's bundle or main.mjs.
const launch = JSON.stringify(resolve(compiled, 'cli', 'launch.js'));
await commonJsBuild(
  'main',
  `import { launch } from ${launch};\nlaunch(${JSON.stringify(familyBundles)}, __dirname, () => import('./main.mjs'));`,
  [],
  // Node runs main.js itself (no vm.Script): its import() stays one.
  { external: ['./main.mjs'], supported: { 'dynamic-import': true } },
);
writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
