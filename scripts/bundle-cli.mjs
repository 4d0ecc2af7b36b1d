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
//   node scripts/bundle-cli.mjs [compiled tree (dist)] [out dir (dist/skiff)]
//
// The out dir is not emptied first: a daemon started from an older bundle still finds the
// chunks it loads lazily.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

await build({
  entryPoints: [join(compiled, 'cli', 'main.js')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  outdir,
  logLevel: 'warning',
  banner: { js: BANNER },
  plugins: [
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
  ],
});
