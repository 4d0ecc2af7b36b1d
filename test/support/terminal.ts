// A conversation with a command under a pseudo-terminal (`script`), as a user at a
// terminal has it: each step waits for its pattern in the output (with a deadline),
// then types its text.
import { spawn } from 'node:child_process';

export interface TerminalStep {
  waitFor: RegExp;
  type?: string;
}

export interface TerminalOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Wraps the `script` command line (e.g. to run it inside a lab host's namespace). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/** Runs the shell `line` under `script -qefc` and converses; resolves with its exit code and output. */
export function underTerminal(
  line: string,
  steps: TerminalStep[],
  o: TerminalOptions = {},
): Promise<{ code: number | null; output: string }> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const [cmd, args] = (o.wrap ?? ((c, a) => [c, a]))('script', ['-qefc', line, '/dev/null']);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let step = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `no ${String(steps[step]?.waitFor)} within ${timeoutMs} ms; output so far: ${JSON.stringify(output)}`,
        ),
      );
    }, timeoutMs);
    const advance = () => {
      while (step < steps.length) {
        const s = steps[step];
        if (!s?.waitFor.test(output)) return;
        step++;
        if (s.type !== undefined) child.stdin.write(s.type);
      }
    };
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      advance();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (step < steps.length)
        reject(
          new Error(`ended (${code}) before ${String(steps[step]?.waitFor)}: ${JSON.stringify(output)}`),
        );
      else resolve({ code, output });
    });
    advance();
  });
}
