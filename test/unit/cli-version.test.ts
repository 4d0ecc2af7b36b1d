import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('skiff --version', () => {
  it('prints the package version from the built command', () => {
    const pkg = JSON.parse(execFileSync('cat', ['package.json'], { encoding: 'utf8' })) as {
      version: string;
    };
    const out = execFileSync('node', ['bin/skiff.js', '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(pkg.version);
  });

  it('exits 2 with a usage error on an unknown command', () => {
    let status = 0;
    try {
      execFileSync('node', ['bin/skiff.js', 'no-such-command'], { stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});
