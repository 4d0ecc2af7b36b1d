// Import boundaries between skiff's components, checked in the lint step (`npm run lint:deps`).
//
// Tool: dependency-cruiser rather than eslint-plugin-boundaries. The project lints with biome,
// and the ESLint plugin would need a second linter with a TypeScript parser and import
// resolver beside it just for this; dependency-cruiser runs alone, resolves through
// tsconfig.json (NodeNext `.js` specifiers onto `.ts` files, type-only imports included) and
// states each rule as a regular expression over repository paths, so the rules below read
// as the architecture they enforce.
//
// A component is a top-level folder with an `index.ts` (its public surface); a sub-part is a
// folder directly inside a component, with its own `index.ts`. test/ is not cruised: unit
// tests exercise internals on purpose, so no surface rule binds them. bench/ is a harness too:
// it may measure a component's internals, but its own sub-folders keep their surfaces, and it
// never imports test/system/. scripts/ consume the components like any other code.
//
// test/unit/lint/boundaries.test.ts runs this very rule set (`forbidden`) against a tree of
// deliberate violations, and checks that `components` below matches the folders on disk.

/** Top-level folders with an `index.ts`; a unit test keeps this list equal to the tree. */
const components = ['agent', 'cli', 'compose', 'dashboard', 'disk', 'lab', 'lib', 'manager', 'node'];
/** Code that uses the components without being one (held to the same surfaces). */
const consumers = ['bench', 'scripts'];

const any = (names) => `(${names.join('|')})`;
const component = any(components);

/**
 * Modules that do I/O, as resolved paths: core modules resolve to their bare name, packages to
 * their file under node_modules/. lib/ takes none of them; type-only imports compile away.
 */
const ioModules = [
  '^(node:)?(fs|fs/promises|net|child_process|dgram|http|https|http2|tls|worker_threads|cluster)$',
  '^node_modules/@grpc/',
  // pino's transports write from a worker thread; the logger itself (stdout) is part of lib.
  '^node_modules/(pino-[^/]+|thread-stream|sonic-boom)/',
  '^node_modules/pino/file\\.js$',
];

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const boundaryRules = [
  {
    name: 'component-surface',
    comment:
      'Another component is reached only through its top-level index.ts. bench/, like test/, ' +
      'is a harness that measures internals (the raft core, the scheduler) and is not bound by it.',
    severity: 'error',
    from: { path: `^${any([...components, 'scripts'])}/` },
    to: {
      path: `^${component}/`,
      pathNot: ['^$1/', `^${component}/index\\.ts$`],
    },
  },
  {
    name: 'sub-part-surface',
    comment:
      'Inside a component, a sub-folder is reached from outside it only through its index.ts ' +
      '($2 is the first path segment below the component: the importer’s own sub-folder, or a ' +
      'file at the component’s top level, which matches no sub-folder).',
    severity: 'error',
    from: { path: `^${any([...components, ...consumers])}/([^/]+)` },
    to: {
      path: '^$1/[^/]+/',
      pathNot: ['^$1/$2/', '^$1/[^/]+/index\\.ts$'],
    },
  },
  {
    name: 'lib-no-io',
    comment: 'lib/ holds the shared model and contracts; it does no I/O.',
    severity: 'error',
    from: { path: '^lib/' },
    to: { path: ioModules, dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'no-harness-in-product',
    comment: 'Product code does not import the test or bench harnesses.',
    severity: 'error',
    from: { path: `^${component}/` },
    to: { path: '^(test|bench)/' },
  },
  {
    name: 'bench-not-test-system',
    comment: 'bench/ shares helpers with the system tests through a module both may use, not test/system/.',
    severity: 'error',
    from: { path: '^bench/' },
    to: { path: '^test/system/' },
  },
  {
    name: 'no-component-cycle',
    comment:
      'Components depend on each other without cycles. Evaluated on folders: once ' +
      'component-surface holds, every import between components lands on a top-level folder.',
    severity: 'error',
    scope: 'folder',
    from: { path: `^${component}$` },
    to: { path: `^${component}$`, circular: true },
  },
  {
    name: 'no-unresolvable',
    comment: 'An import that resolves to nothing would slip past every rule above.',
    severity: 'error',
    from: {},
    to: { couldNotResolve: true },
  },
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: boundaryRules,
  options: {
    // Run on `.`: what is not product code is left out here, so new folders are covered.
    exclude: { path: '^(dist|docs|examples|test/corpus|bench/results)(/|$)' },
    // test/ is a leaf: reported when product code imports it, never cruised itself.
    doNotFollow: { path: ['(^|/)node_modules/', '^test/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
