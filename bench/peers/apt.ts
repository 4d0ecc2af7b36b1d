// Installs a peer's Debian package the first time a benchmark needs it. Services the
// package ships are never started here (policy-rc.d or no init system): the drivers
// start their own daemons with temporary state.
import { existsSync } from 'node:fs';
import { runCommand } from '../lib/index.js';

const installing = new Map<string, Promise<void>>();

async function aptInstall(pkg: string): Promise<{ ok: boolean; output: string }> {
  // Another process (a concurrent benchmark) may hold dpkg's lock: wait for it.
  const r = await runCommand(
    'apt-get',
    ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', pkg],
    {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 600_000,
    },
  );
  return { ok: r.code === 0, output: `${r.stdout}\n${r.stderr}` };
}

/** Makes sure `binary` exists, installing `pkg` with apt-get (after an update if apt does not know it). */
export function ensurePackage(
  pkg: string,
  binary: string,
  log: (m: string) => void = () => {},
): Promise<void> {
  if (existsSync(binary)) return Promise.resolve();
  let p = installing.get(pkg);
  if (!p) {
    p = (async () => {
      log(`installing Debian package ${pkg} (for ${binary})`);
      let r = await aptInstall(pkg);
      if (!r.ok && /unable to locate|has no installation candidate/i.test(r.output)) {
        await runCommand('apt-get', ['update'], { timeoutMs: 600_000 });
        r = await aptInstall(pkg);
      }
      if (!r.ok || !existsSync(binary)) {
        throw new Error(
          `cannot install ${pkg} (needed for ${binary}): ${r.output.trim().split('\n').slice(-3).join(' | ')}`,
        );
      }
    })();
    installing.set(pkg, p);
    p.catch(() => installing.delete(pkg));
  }
  return p;
}
