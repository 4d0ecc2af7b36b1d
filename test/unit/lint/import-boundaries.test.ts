// The import boundary check (`npm run lint:deps`, run by `npm test`'s lint step) reports each
// kind of violation: the repository's own .dependency-cruiser.cjs is run, as the lint step
// runs it, on a small tree of components in which each rule is broken once and each
// allowed shape appears once.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const configFile = join(repo, '.dependency-cruiser.cjs');
const depcruise = join(repo, 'node_modules/.bin/depcruise');

interface Rule {
  name: string;
  to: { path?: string | string[] };
}
const config = createRequire(import.meta.url)(configFile) as { forbidden: Rule[] };

/** Each file of the tree and what it imports; comments say which rule a line breaks. */
const tree: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
  }),
  'node_modules/@grpc/grpc-js/package.json': JSON.stringify({ name: '@grpc/grpc-js', main: 'index.js' }),
  'node_modules/@grpc/grpc-js/index.js': 'module.exports = {};\n',

  'lib/index.ts': "export * from './model/index.js';\nexport * from './pure.js';\n",
  'lib/model/index.ts': "export * from './swarm.js';\n",
  'lib/model/swarm.ts': 'export interface Task { ID: string }\n',
  'lib/pure.ts': "import type { Server } from 'node:net';\nexport type Listener = Server;\n",
  'lib/transport.ts': "import '@grpc/grpc-js';\nexport const service = {};\n",
  'lib/storage.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",

  'manager/index.ts': "export * from './store/index.js';\nexport { lead } from './leader.js';\n",
  'manager/store/index.ts': "export * from './memory.js';\n",
  'manager/store/memory.ts':
    "import type { Task } from '../../lib/index.js';\nexport const tasks: Task[] = [];\n",
  'manager/leader.ts': "import { work } from '../agent/index.js';\nexport const lead = work;\n",
  'manager/harness.ts': "export { waitFor } from '../test/lab/wait.js';\n",

  'agent/index.ts':
    "export { work } from './worker/index.js';\nexport { tasks } from '../manager/index.js';\n",
  'agent/worker/index.ts': "export { work } from './task.js';\n",
  'agent/worker/task.ts':
    "import { tasks } from '../../manager/store/memory.js';\nimport '../../lib/transport.js';\nexport const work = tasks;\n",
  'agent/node-agent.ts': "export { work } from './worker/task.js';\n",
  'agent/image/pull.ts': "export { work } from '../worker/task.js';\n",

  'cli/index.ts': "export * from './main.js';\n",
  'cli/main.ts': "export * from './gone.js';\n",

  'bench/run.ts': "export * from '../test/system/helpers.js';\nexport * from '../manager/store/index.js';\n",
  'scripts/run.ts': "export * from '../manager/store/memory.js';\n",

  'test/lab/wait.ts': 'export const waitFor = () => {};\n',
  'test/system/helpers.ts': 'export const up = () => {};\n',
};

/** Every violation the tree holds, as `rule: from → to`. */
const expected = [
  'lib-no-io: lib/storage.ts → fs',
  'lib-no-io: lib/transport.ts → node_modules/@grpc/grpc-js/index.js',
  'component-surface: agent/worker/task.ts → manager/store/memory.ts',
  'component-surface: agent/worker/task.ts → lib/transport.ts',
  'component-surface: scripts/run.ts → manager/store/memory.ts',
  'sub-part-surface: agent/node-agent.ts → agent/worker/task.ts',
  'sub-part-surface: agent/image/pull.ts → agent/worker/task.ts',
  'no-harness-in-product: manager/harness.ts → test/lab/wait.ts',
  'bench-not-test-system: bench/run.ts → test/system/helpers.ts',
  'no-component-cycle: agent → manager → agent',
  'no-component-cycle: manager → agent → manager',
  'no-unresolvable: cli/main.ts → ./gone.js',
];

describe('import boundaries', () => {
  let dir: string;
  let exitCode = 0;
  let violations: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-boundaries-'));
    for (const [path, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    // The lint step's own command line (package.json's lint:deps), from the tree's root.
    const run = await promisify(execFile)(depcruise, ['--config', configFile, '--output-type', 'err', '.'], {
      cwd: dir,
    }).catch((e: { code: number; stdout: string }) => e);
    exitCode = 'code' in run ? run.code : 0;
    // `  error rule: from → to`; a cycle goes on over indented lines.
    violations = [...run.stdout.matchAll(/^ {2}error (.+(?:\n {4,}.+)*)/gm)].map((m) =>
      (m[1] ?? '').replace(/\s+/g, ' ').trim(),
    );
  }, 30_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports each violation in the tree, and nothing the rules allow', () => {
    expect(violations.sort()).toEqual([...expected].sort());
  });

  it('fails the lint step', () => {
    expect(exitCode).not.toBe(0);
  });

  it('breaks every rule of the configuration once at least', () => {
    const broken = new Set(violations.map((v) => v.split(':')[0]));
    expect(config.forbidden.map((r) => r.name).filter((name) => !broken.has(name))).toEqual([]);
  });

  it('counts every top-level folder with an index.ts as a component', () => {
    const folders = readdirSync(repo, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(repo, d.name, 'index.ts')))
      .map((d) => d.name);
    const surface = config.forbidden.find((r) => r.name === 'component-surface');
    const componentPattern = new RegExp(String(surface?.to.path));
    expect(folders.filter((name) => !componentPattern.test(`${name}/x.ts`))).toEqual([]);
  });
});
