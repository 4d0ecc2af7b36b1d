// Cleanup after a skiff node whose test or benchmark failed midway.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { network } from '../../../agent/index.js';

/**
 * Whatever a stopped node left because its test (or benchmark) failed midway: its
 * containers and their runtime state, its networks' bridges and chains, its mounts.
 */
export async function removeNodeLeftovers(stateRoot: string, runDir: string): Promise<void> {
  await runQuiet('pkill', ['-9', '-f', `conmon.*${runDir}`]);
  const crunRoot = join(runDir, 'runtime', 'crun');
  for (const id of (await runQuiet('crun', ['--root', crunRoot, 'list', '-q'])).split('\n').filter(Boolean)) {
    await runQuiet('crun', ['--root', crunRoot, 'delete', '-f', id]);
  }
  await removeLeftoverNetworks(join(stateRoot, 'local'), runDir);
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(stateRoot) || m.startsWith(runDir))
    .reverse();
  for (const m of mounts) await runQuiet('umount', ['-l', m]);
}

/**
 * Removes the bridges, VXLAN devices and firewall chains of a node whose test failed
 * before it could remove them: the network layer reloads its state, lets go of every
 * container (they were killed), then removes each network as it would at `down`.
 */
async function removeLeftoverNetworks(stateDir: string, runDir: string): Promise<void> {
  const stateOfNetworks = join(stateDir, 'network');
  const dns = new network.DnsServer({ port: 0 });
  const manager = new network.NetworkManager({
    stateDir: stateOfNetworks,
    runDir: join(runDir, 'network'),
    dns,
  });
  try {
    await manager.restore();
    let attachments: string[] = [];
    try {
      attachments = readdirSync(join(stateOfNetworks, 'attachments'));
    } catch {}
    for (const file of attachments.filter((f) => f.endsWith('.json'))) {
      await manager.releaseContainer(file.slice(0, -'.json'.length)).catch(() => {});
    }
    for (const def of manager.listNetworks()) await manager.removeNetwork(def.id).catch(() => {});
  } finally {
    await dns.close();
  }
}

/** Runs a command for its output; failures are not errors here (cleanup paths). */
export function runQuiet(cmd: string, args: string[]): Promise<string> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 30_000 }, (_err, stdout) => done(String(stdout ?? '')));
  });
}
