// The CLI's bundle, which bin/skiff.js runs (and so do the daemons it starts): esbuild over
// the compiled tree (tsc's output), split into chunks so that a command loads only its own
// family's code (cli/commands/index.ts). A command's start is mostly module loading:
// zod and js-yaml are bundled in (tree-shaken, one compile instead of ~100 ESM files that
// the loader resolves and compiles one by one: 60 ms of `stack deploy`); the other packages
// stay in node_modules (CommonJS, native or worker code, or daemon-only).
//
//   node scripts/bundle-cli.mjs [compiled tree (dist)] [out dir (dist/skiff)]
//
// The out dir is not emptied first: a daemon started from an older bundle still finds the
// chunks it loads lazily.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const BUNDLED = new Set(['zod', 'js-yaml']);
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
        // Bare specifiers (packages and node: builtins) stay imports unless bundled above.
        b.onResolve({ filter: /^[^./]/ }, (a) =>
          BUNDLED.has(packageOf(a.path)) ? undefined : { path: a.path, external: true },
        );
      },
    },
  ],
});
