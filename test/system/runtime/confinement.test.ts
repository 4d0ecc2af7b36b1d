// What confines a container by default, checked from inside real crun containers:
// the seccomp filter (containers-common's profile with Docker's capability gates),
// masked /proc files, and what the node reports of it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apparmorEnabled, apparmorProfileText } from '../../../agent/runtime/apparmor.js';
import { ContainerRuntime } from '../../../agent/runtime/index.js';
import { SECCOMP_BPF_ANNOTATION } from '../../../agent/runtime/seccomp.js';
import { runCommand, waitFor } from '../../lab/index.js';
import { createHarness, type Harness, lines } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

/**
 * The `Seccomp:` mode of the container's first process, from the host's /proc, once it runs
 * the container's command: crun loads the filter last, after `start` has released its init
 * (the exec FIFO), so a read right after `start` may still see crun's own init at mode 0.
 */
async function seccompMode(id: string, command = 'sleep'): Promise<string> {
  const info = await h.rt.inspect(id);
  const pid = info.pid;
  if (pid === undefined) throw new Error(`container ${id} has no pid`);
  await waitFor(async () => (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === command, {
    what: `container ${id} (pid ${pid}) to run ${command}`,
  });
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return /^Seccomp:\s+(\d+)/m.exec(status)?.[1] ?? 'none';
}

describe('seccomp', () => {
  it('filters every container by default (Seccomp: 2), and not one that asks for unconfined', async () => {
    const confined = await h.create({ Command: ['sleep', '60'] });
    const unconfined = await h.create({
      Command: ['sleep', '60'],
      Privileges: { Seccomp: { Mode: 'unconfined' } },
    });
    try {
      await h.rt.start(confined.id);
      await h.rt.start(unconfined.id);
      expect(await seccompMode(confined.id)).toBe('2');
      expect(await seccompMode(unconfined.id)).toBe('0');
    } finally {
      await h.rt.delete(confined.id, { force: true });
      await h.rt.delete(unconfined.id, { force: true });
    }
  });

  it('refuses a new user namespace inside a default container, as Docker does', async () => {
    const script = 'unshare -U true 2>/dev/null && echo userns-ok || echo userns-denied';
    const plain = await h.run({ Command: ['sh', '-c', script] });
    expect(lines(plain.logs)).toEqual(['userns-denied']);
    // The filter is what refuses it: the same container unconfined may.
    const open = await h.run({
      Command: ['sh', '-c', script],
      Privileges: { Seccomp: { Mode: 'unconfined' } },
    });
    expect(lines(open.logs)).toEqual(['userns-ok']);
  });

  it('hands a profile crun compiled once back to it, filtering the same way, in exec too', async () => {
    // The first create (here or before) compiles the default profile for Docker's capabilities.
    const first = await h.create({ Command: ['sleep', '60'] });
    const second = await h.create({ Command: ['sleep', '60'] });
    try {
      const annotations = async (bundle: string) =>
        (
          JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
            annotations: Record<string, string>;
          }
        ).annotations;
      expect(await annotations(second.bundle)).toHaveProperty(SECCOMP_BPF_ANNOTATION);
      await h.rt.start(second.id);
      expect(await seccompMode(second.id)).toBe('2');
      const r = await h.rt.exec(second.id, [
        'sh',
        '-c',
        'grep Seccomp: /proc/self/status | tr -s "\t " " "; unshare -U true 2>/dev/null && echo userns-ok || echo userns-denied',
      ]);
      expect(r.stdout.trim().split('\n')).toEqual(['Seccomp: 2', 'userns-denied']);
    } finally {
      await h.rt.delete(first.id, { force: true });
      await h.rt.delete(second.id, { force: true });
    }
  });

  it('still forks, runs threads and changes users under the filter', async () => {
    const { logs, info } = await h.run({
      Command: ['sh', '-c', '(echo child) & wait; su -s /bin/sh nobody -c "id -u"'],
    });
    expect(info.exitCode).toBe(0);
    expect(lines(logs)).toEqual(['child', '65534']);
  });

  it('runs a custom profile from the spec', async () => {
    const profile = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
    const { logs } = await h.run({
      Command: ['sh', '-c', 'mkdir /x 2>/dev/null && echo mkdir-ok || echo mkdir-denied'],
      Privileges: { Seccomp: { Mode: 'custom', Profile: profile } },
    });
    expect(lines(logs)).toEqual(['mkdir-denied']);
  });

  it('refuses a container, naming the file, when the node has no default profile', async () => {
    const missing = join(h.base, 'no-such-seccomp.json');
    const rt = new ContainerRuntime({
      root: join(h.base, 'nodefault', 'containers'),
      runRoot: join(h.base, 'nodefault', 'run'),
      cgroupParent: h.cgroupParent,
      seccompProfile: missing,
    });
    try {
      expect(rt.securityInfo().options).not.toContainEqual(expect.stringMatching(/seccomp/));
      expect(rt.securityInfo().warnings.join('\n')).toContain(missing);
      await expect(
        rt.create({
          id: `nodefault${process.pid}`,
          name: 'x',
          rootfs: h.base,
          imageConfig: {},
          spec: { Image: 'b' },
        }),
      ).rejects.toThrow(missing);
    } finally {
      rt.close();
    }
  });
});

describe('apparmor', () => {
  it('has a skiff-default profile that apparmor_parser accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-aa-'));
    try {
      await writeFile(join(dir, 'profile'), apparmorProfileText());
      // -Q: parse and compile only, so this holds on a kernel without AppArmor too.
      const r = await runCommand('apparmor_parser', ['-Q', '-K', join(dir, 'profile')]);
      expect(r.stderr.replace(/^Cache read\/write disabled.*\n?/m, '')).toBe('');
      expect(r.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs containers unconfined by AppArmor where the kernel has none, and says so', async () => {
    const enabled = apparmorEnabled();
    expect(h.rt.securityInfo().options.includes('name=apparmor')).toBe(enabled);
    const c = await h.create({ Command: ['true'] });
    const config = JSON.parse(await readFile(join(c.bundle, 'config.json'), 'utf8')) as {
      process: { apparmorProfile?: string };
    };
    expect(config.process.apparmorProfile).toBe(enabled ? 'skiff-default' : undefined);
    await h.rt.delete(c.id, { force: true });
  });
});

describe('masked paths', () => {
  it("shows nothing of the host's /proc/interrupts", async () => {
    const { logs } = await h.run({ Command: ['sh', '-c', 'wc -c </proc/interrupts'] });
    expect(lines(logs)).toEqual(['0']);
  });
});
