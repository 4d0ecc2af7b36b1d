// The process logger on a full disk: a daemon's log is its stdout, a file on the state
// disk, and a log line that cannot be written must cost that line, not the process (the
// chaos run's fill-disk fault found a worker's daemon dying on its next log line).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skiff-log-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` in a child whose stdout is /dev/full (every write: ENOSPC). */
function onFullDisk(body: string) {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(
    script,
    `import { createLogger } from ${JSON.stringify(resolve(import.meta.dirname, '../../lib/index.ts'))};\n${body}\n`,
  );
  const full = openSync('/dev/full', 'w');
  return spawnSync(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', full, 'pipe'],
    encoding: 'utf8',
    // Ends in about a second; a child that hangs is killed.
    timeout: 20_000,
  });
}

describe('the process logger on a full disk', () => {
  it('costs the lines, not the process', () => {
    const r = onFullDisk(`
      const log = createLogger({ level: 'info' });
      for (let i = 0; i < 100; i++) log.info({ i }, 'a line');
      setTimeout(() => {
        log.info('and one more');
        setTimeout(() => process.exit(3), 200);
      }, 200);
    `);
    expect(r.stderr).not.toMatch(/Unhandled 'error' event|ENOSPC/);
    expect(r.status).toBe(3);
  });

  it('lets a fatal line through and the process exit with its own status', () => {
    // 8 MiB of lines: more than are kept waiting for room.
    const r = onFullDisk(`
      const log = createLogger({ level: 'info' });
      const pad = 'x'.repeat(1024);
      let n = 0;
      const t = setInterval(() => {
        for (let i = 0; i < 1024; i++) log.info({ pad, n: n++ }, 'a line');
        if (n >= 8192) {
          clearInterval(t);
          log.fatal('bye');
          process.exit(70);
        }
      }, 1);
    `);
    expect(r.stderr).not.toMatch(/Unhandled 'error' event|ENOSPC/);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(70);
  });
});
