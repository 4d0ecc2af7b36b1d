import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Benchmark,
  errorLine,
  figuresFromOutput,
  machine,
  renderTable,
  runBenchmarks,
  toFigure,
} from '../../../bench/lib/index.js';

describe('bench records', () => {
  it('normalizes what a script printed and computes a missing ratio', () => {
    const out = [
      'image: 8 layers',
      '{"name":"pull","metric":"median","unit":"ms","value":50,"peer":"skopeo","peerValue":100}',
      '{"name":"bad","metric":"median","unit":"ms","value":"fast"}',
      '{"not":"a figure"}',
      '{broken json',
      'metric   skiff   peer',
    ].join('\n');
    expect(figuresFromOutput(out)).toEqual([
      { name: 'pull', metric: 'median', unit: 'ms', value: 50, peer: 'skopeo', peerValue: 100, ratio: 0.5 },
    ]);
  });

  it('keeps a given ratio and drops malformed peer fields', () => {
    expect(toFigure({ name: 'n', metric: 'm', unit: 'u', value: 1, peerValue: 'x', ratio: 3 })).toEqual({
      name: 'n',
      metric: 'm',
      unit: 'u',
      value: 1,
      ratio: 3,
    });
    expect(toFigure({ name: 'n', metric: 'm', unit: 'u', value: Number.NaN })).toBeUndefined();
    expect(toFigure(null)).toBeUndefined();
  });

  it('finds why a script failed in its stderr', () => {
    const uncaught = [
      '/work/main/lib/x.ts:63',
      'const C = grpc.make(d);',
      '          ^',
      '',
      'TypeError: grpc.make is not a function',
      '    at <anonymous> (/work/main/lib/x.ts:63:35)',
      '    at async asyncRunEntryPointWithESMLoader (node:internal/modules/run_main:117:5)',
      '',
      'Node.js v20.20.2',
    ].join('\n');
    expect(errorLine(uncaught)).toBe('TypeError: grpc.make is not a function');
    expect(errorLine('progress 1\nregistry did not answer\n    at f (x.ts:1)\n')).toBe(
      'progress 1 | registry did not answer',
    );
  });

  it('describes the machine', () => {
    const m = machine();
    expect(m.cores).toBeGreaterThan(0);
    expect(m.memoryGiB).toBeGreaterThan(0);
    expect(m.kernel).toMatch(/\d/);
  });

  it('renders a table with peers, ratios and failed benchmarks', () => {
    const text = renderTable(
      [
        {
          name: 'start',
          metric: 'median',
          unit: 'ms',
          value: 12.345,
          peer: 'crun',
          peerValue: 10,
          ratio: 1.23,
          machine: machine(),
        },
        { name: 'rate', metric: 'tasks/s', unit: 'ops/s', value: 123456, machine: machine() },
      ],
      [
        { benchmark: 'start', ok: true, seconds: 1.2 },
        { benchmark: 'pull', ok: false, error: 'registry did not start', seconds: 0.5 },
      ],
    );
    expect(text).toMatch(/start\s+median\s+12\.35 ms\s+crun\s+10 ms\s+1\.23x/);
    expect(text).toMatch(/rate\s+tasks\/s\s+123,456 ops\/s/);
    expect(text).toContain('ok     start (1.2 s)');
    expect(text).toContain('FAILED pull (0.5 s): registry did not start');
  });
});

describe('bench runner', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('keeps going after a failing benchmark, stamps the machine, appends JSON lines', async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-bench-unit-'));
    const resultsFile = join(dir, 'results', 'run.jsonl');
    const ran: string[] = [];
    const benches: Benchmark[] = [
      {
        name: 'first',
        description: '',
        run: async (ctx) => {
          ran.push(`first:${ctx.size}`);
          ctx.emit({ name: 'first', metric: 'm', unit: 'ms', value: 1 });
        },
      },
      {
        name: 'broken',
        description: '',
        run: async () => {
          throw new Error('peer would not start\nstack trace');
        },
      },
      {
        name: 'last',
        description: '',
        run: async (ctx) => {
          ran.push('last');
          ctx.emit({ name: 'last', metric: 'm', unit: 'ms', value: 2, peer: 'p', peerValue: 4, ratio: 0.5 });
        },
      },
    ];
    let stdout = '';
    let stderr = '';
    const report = await runBenchmarks(benches, {
      size: 'tiny',
      resultsFile,
      write: (t) => {
        stdout += t;
      },
      log: (t) => {
        stderr += t;
      },
    });
    expect(ran).toEqual(['first:tiny', 'last']);
    expect(report.exitCode).toBe(1);
    expect(report.outcomes.map((o) => [o.benchmark, o.ok, o.error])).toEqual([
      ['first', true, undefined],
      ['broken', false, 'peer would not start'],
      ['last', true, undefined],
    ]);
    const lines = (await readFile(resultsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ name: 'last', ratio: 0.5, machine: machine() });
    expect(stdout).toContain(JSON.stringify(lines[0]));
    expect(stdout).toContain('FAILED broken');
    expect(stderr).toContain('[broken] FAILED: Error: peer would not start');
  });

  it('exits 0 when every benchmark succeeds', async () => {
    const report = await runBenchmarks([{ name: 'ok', description: '', run: async () => {} }], {
      size: 'full',
      write: () => {},
      log: () => {},
    });
    expect(report.exitCode).toBe(0);
  });
});
