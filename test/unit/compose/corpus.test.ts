// The corpus in test/corpus/compose: realistic projects that must load, survive a
// round trip through `compose config` output, convert to a stack, and be judged the
// same way by our schema and the upstream compose-spec.json (read here, in the test only).

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
// ajv: the reference JSON Schema validator, used only to run the upstream schema in tests.
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../../compose/dotenv.js';
import {
  type ComposeProject,
  type LoadOptions,
  loadProject,
  projectToStack,
  toCanonical,
} from '../../../compose/index.js';
import { interpolateTree } from '../../../compose/interpolate-tree.js';
import { stripResets } from '../../../compose/merge.js';
import { validateComposeFile } from '../../../compose/schema.js';
import { parseComposeYaml } from '../../../compose/yaml.js';

const CORPUS = join(import.meta.dirname, '../../corpus/compose');
// The upstream schema, from the shared reference folder beside the repository.
const UPSTREAM = join(import.meta.dirname, '../../../../shared/reference/compose-spec/compose-spec.json');

interface Run {
  files?: string[];
  profiles?: string[];
  env?: Record<string, string>;
}

const cases = readdirSync(CORPUS)
  .filter((d) => statSync(join(CORPUS, d)).isDirectory())
  .sort();

function runsOf(dir: string): Run[] {
  try {
    return JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Run[];
  } catch {
    return [{}];
  }
}

function composeFilesIn(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !/\.ya?ml$/.test(e.name)) continue;
    const p = join(e.parentPath, e.name);
    if (/^(services|include):/m.test(readFileSync(p, 'utf8'))) out.push(p);
  }
  return out.sort();
}

function optionsFor(dir: string, run: Run): LoadOptions {
  return {
    files: (run.files ?? []).map((f) => join(dir, f)),
    workingDir: dir,
    env: { HOME: '/home/tester', ...(run.env ?? {}) },
    ...(run.profiles ? { profiles: run.profiles } : {}),
  };
}

const comparable = (p: ComposeProject) => ({
  name: p.name,
  services: p.services,
  networks: p.networks,
  volumes: p.volumes,
  secrets: p.secrets,
  configs: p.configs,
  extensions: p.extensions,
});

describe('corpus', () => {
  it('has at least 30 compose files', () => {
    const total = cases.reduce((n, c) => n + composeFilesIn(join(CORPUS, c)).length, 0);
    expect(total).toBeGreaterThanOrEqual(30);
  });

  for (const c of cases) {
    const dir = join(CORPUS, c);
    runsOf(dir).forEach((run, i) => {
      it(`${c} #${i} loads, round-trips through config output and converts to a stack`, async () => {
        const first = await loadProject(optionsFor(dir, run));
        if (!first.ok)
          throw new Error(
            first.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.path}: ${e.message}`).join('\n'),
          );
        expect(Object.keys(first.project.services).length).toBeGreaterThan(0);

        const tmp = mkdtempSync(join(tmpdir(), 'skiff-corpus-'));
        try {
          const out = join(tmp, 'config.yaml');
          writeFileSync(out, yaml.dump(toCanonical(first.project), { lineWidth: -1, noRefs: true }));
          const again = await loadProject({ ...optionsFor(tmp, run), files: [out] });
          if (!again.ok)
            throw new Error(
              again.errors.map((e) => `${e.line}:${e.col}: ${e.path}: ${e.message}`).join('\n'),
            );
          expect(comparable(again.project)).toEqual(comparable(first.project));
          expect(toCanonical(again.project)).toEqual(toCanonical(first.project));
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }

        const stack = projectToStack(first.project);
        expect(stack.services.map((s) => s.Name)).toEqual(
          Object.keys(first.project.services)
            .sort()
            .map((n) => `${first.project.name}_${n}`),
        );
        for (const s of stack.services)
          expect(s.Labels?.['com.docker.stack.namespace']).toBe(first.project.name);
      });
    });
  }
});

describe('our schema agrees with the upstream compose-spec.json', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  // Its $schema URL (https) is not one ajv knows by that name; it is draft-07, ajv's default.
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(UPSTREAM, 'utf8')) as Record<
    string,
    unknown
  >;
  const upstream = ajv.compile(schema);

  const interpolated = (file: string, env: Record<string, string>) => {
    const r = parseComposeYaml(readFileSync(file, 'utf8'), file);
    if (!r.ok) throw new Error(r.errors[0]!.message);
    return interpolateTree(stripResets(r.value, r.pos()), (n) => env[n]).value;
  };

  it('accepts every corpus file both ways', () => {
    for (const c of cases) {
      const dir = join(CORPUS, c);
      let dotenv: Record<string, string> = {};
      try {
        dotenv = parseDotenv(readFileSync(join(dir, '.env'), 'utf8')).vars;
      } catch {
        // no .env in this case
      }
      for (const run of runsOf(dir)) {
        const env = { COMPOSE_PROJECT_NAME: 'corpus', ...dotenv, ...(run.env ?? {}) };
        for (const file of composeFilesIn(dir)) {
          const data = interpolated(file, env);
          const ours = validateComposeFile(data);
          const theirs = upstream(data);
          expect({
            file: relative(CORPUS, file),
            ours,
            theirs,
            upstreamErrors: upstream.errors ?? null,
          }).toEqual({
            file: relative(CORPUS, file),
            ours: [],
            theirs: true,
            upstreamErrors: null,
          });
        }
      }
    }
  });

  const invalid: Record<string, string> = {
    'unknown top-level key': 'services: {}\nfoo: 1\n',
    'unknown service key': 'services:\n  a: {image: x, colour: red}\n',
    'image not a string': 'services:\n  a: {image: [x]}\n',
    'bad service name': 'services:\n  "a b": {image: x}\n',
    'ports item mapping with unknown key': 'services:\n  a: {image: x, ports: [{target: 80, bogus: 1}]}\n',
    'environment as a number': 'services:\n  a: {image: x, environment: 5}\n',
    'depends_on condition unknown':
      'services:\n  a: {image: x, depends_on: {b: {condition: service_ready}}}\n  b: {image: x}\n',
    'volume type unknown': 'services:\n  a: {image: x, volumes: [{type: nfs, target: /x}]}\n',
    'deploy unknown key': 'services:\n  a: {image: x, deploy: {replica: 2}}\n',
    'healthcheck test as number': 'services:\n  a: {image: x, healthcheck: {test: 5}}\n',
    'networks list with a number': 'services:\n  a: {image: x, networks: [1]}\n',
    'cap_add repeated': 'services:\n  a: {image: x, cap_add: [NET_ADMIN, NET_ADMIN]}\n',
    'extends without service': 'services:\n  a: {image: x, extends: {file: b.yaml}}\n',
    'secret unknown key': 'services: {}\nsecrets:\n  s: {path: ./x}\n',
    'include unknown key': 'include:\n  - {file: x.yaml}\n',
    'ulimit with only soft': 'services:\n  a: {image: x, ulimits: {nofile: {soft: 1}}}\n',
  };

  for (const [name, text] of Object.entries(invalid)) {
    it(`rejects: ${name}`, () => {
      const r = parseComposeYaml(text, 'x.yaml');
      if (!r.ok) throw new Error('fixture must be valid YAML');
      expect(upstream(r.value)).toBe(false);
      expect(validateComposeFile(r.value).length).toBeGreaterThan(0);
    });
  }

  it('says what a check without a message of its own wants, in English', () => {
    const issues = validateComposeFile({
      services: { a: { image: 'x', depends_on: { 'b c': { condition: 'service_started' } } } },
    });
    expect(issues).toEqual([
      {
        path: ['services', 'a', 'depends_on', 'b c'],
        message: 'Invalid string: must match pattern /^[a-zA-Z0-9._-]+$/',
      },
    ]);
  });
});
