// Wraps a standalone benchmark script (bench/<name>.ts, owned by the component's
// engineer, printing one JSON figure per line) as a harness benchmark: run under tsx
// in a child process, its JSON lines become records, everything else goes to stderr.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { BenchContext, Benchmark, BenchSize } from './benchmark.js';
import { figuresFromOutput } from './record.js';
import { onInterrupt } from './teardown.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface ScriptBenchmarkOptions {
  name: string;
  description: string;
  /** Relative to the repository root, e.g. `bench/container-start.ts`. */
  script: string;
  /** Arguments per size. */
  args: Record<BenchSize, string[]>;
  /** Extra environment for the script (e.g. DOCKER_HOST of a peer the harness started). */
  env?: (ctx: BenchContext) => Promise<NodeJS.ProcessEnv | undefined> | NodeJS.ProcessEnv | undefined;
  /** Kill the script after this long (default 30 min; tiny runs get 5 min). */
  timeoutMs?: number;
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string;
}

/** Runs `node --import tsx SCRIPT ARGS`, streaming stderr and non-JSON stdout to `log`. */
export function runScript(
  script: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; log: (line: string) => void },
): Promise<ScriptResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const unregister = onInterrupt(`benchmark script ${script}`, () => child.kill('SIGTERM'));
    let stdout = '';
    let stderrTail = '';
    const lines = (onLine: (l: string) => void) => {
      let partial = '';
      return (b: Buffer) => {
        partial += b.toString('utf8');
        const parts = partial.split('\n');
        partial = parts.pop()!;
        for (const l of parts) onLine(l);
      };
    };
    child.stdout.on(
      'data',
      lines((l) => {
        stdout += `${l}\n`;
        if (!l.trim().startsWith('{') && l.trim()) opts.log(l);
      }),
    );
    child.stderr.on(
      'data',
      lines((l) => {
        stderrTail = `${stderrTail}${l}\n`.slice(-4000);
        opts.log(l);
      }),
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      unregister();
      fail(new Error(`cannot run ${script}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      done({ code, signal, stdout, stderrTail });
    });
  });
}

export function scriptBenchmark(opts: ScriptBenchmarkOptions): Benchmark {
  return {
    name: opts.name,
    description: `${opts.description} (${opts.script})`,
    async run(ctx) {
      const args = opts.args[ctx.size];
      const env = (await opts.env?.(ctx)) ?? {};
      const timeoutMs = opts.timeoutMs ?? (ctx.size === 'tiny' ? 300_000 : 1_800_000);
      ctx.log(`npx tsx ${opts.script} ${args.join(' ')}`);
      const r = await runScript(opts.script, args, { env, timeoutMs, log: (l) => ctx.log(`  ${l}`) });
      const figures = figuresFromOutput(r.stdout);
      // Figures already printed are worth keeping even when the script failed later.
      for (const f of figures) ctx.emit(f);
      if (r.code !== 0) {
        const how = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
        const why = errorLine(r.stderrTail);
        throw new Error(`${opts.script} ${how}${why ? `: ${why}` : ''}`);
      }
      if (figures.length === 0) throw new Error(`${opts.script} printed no JSON figures on stdout`);
    },
  };
}

/**
 * The line of a script's stderr that says why it failed: the last `SomeError: …` line
 * (what Node prints for an uncaught error), else the last lines that are not stack frames.
 */
export function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const error = lines.findLast((l) => /^(\w*Error|Error)\b.*:/.test(l));
  if (error) return error;
  return lines
    .filter((l) => !l.startsWith('at ') && !/^Node\.js v/.test(l))
    .slice(-3)
    .join(' | ');
}
