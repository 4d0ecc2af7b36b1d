import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../agent/runtime/index.js';
import {
  compareKernel,
  type OciSeccomp,
  parseSeccompProfile,
  resolveSeccomp,
  SeccompBpfCache,
  type SeccompTarget,
  seccompFor,
} from '../../../agent/runtime/seccomp.js';
import { PROFILE } from './seccomp-profile.js';

const amd64: SeccompTarget = { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '6.1.0-13-amd64' };

function profile() {
  return parseSeccompProfile(JSON.stringify(PROFILE), 'test');
}

function allowed(s: OciSeccomp): string[] {
  return s.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names);
}

describe('resolveSeccomp', () => {
  it("takes the node's architectures from archMap and keeps the default action", () => {
    const s = resolveSeccomp(profile(), amd64, true);
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.defaultErrnoRet).toBe(38);
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(resolveSeccomp(profile(), { ...amd64, arch: 'arm64' }, true).architectures).toEqual([
      'SCMP_ARCH_AARCH64',
      'SCMP_ARCH_ARM',
    ]);
  });

  it('keeps rules by architecture, capabilities and kernel as Docker does', () => {
    const s = resolveSeccomp(profile(), amd64, true);
    expect(allowed(s)).toEqual(expect.arrayContaining(['read', 'write', 'arch_prctl', 'chroot', 'ptrace']));
    expect(allowed(s)).not.toContain('cacheflush');
    // The CAP_SYS_CHROOT include is kept, its exclude twin dropped.
    expect(s.syscalls.filter((r) => r.names.includes('chroot'))).toEqual([
      { names: ['chroot'], action: 'SCMP_ACT_ALLOW' },
    ]);
    const noChroot = resolveSeccomp(profile(), { ...amd64, capabilities: ['CAP_CHOWN'] }, true);
    expect(noChroot.syscalls.filter((r) => r.names.includes('chroot'))).toEqual([
      { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ]);
    expect(allowed(resolveSeccomp(profile(), { ...amd64, kernel: '4.4.0' }, true))).not.toContain('ptrace');
    // Argument checks keep their shape, valueTwo made explicit.
    expect(s.syscalls).toContainEqual({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
    });
  });

  it("applies Docker's gates: no namespaces, mounts or keyring without CAP_SYS_ADMIN", () => {
    const s = resolveSeccomp(profile(), amd64, true);
    expect(allowed(s)).not.toEqual(expect.arrayContaining(['unshare']));
    for (const n of ['unshare', 'mount', 'clone', 'clone3', 'keyctl']) expect(allowed(s)).not.toContain(n);
    const eperm = s.syscalls.find((r) => r.names.includes('unshare'));
    expect(eperm).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    expect(eperm?.names).toContain('keyctl');
    // clone may fork and make threads, never a new namespace; clone3 falls back to it.
    expect(s.syscalls).toContainEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(s.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    // With CAP_SYS_ADMIN the profile's own rules stand (the keyring stays closed).
    const admin = resolveSeccomp(profile(), { ...amd64, capabilities: ALL_CAPABILITIES }, true);
    expect(allowed(admin)).toEqual(expect.arrayContaining(['unshare', 'mount', 'clone', 'clone3']));
    expect(allowed(admin)).not.toContain('keyctl');
    // A custom profile is run as written.
    expect(allowed(resolveSeccomp(profile(), amd64, false))).toContain('unshare');
  });
});

describe('seccompFor', () => {
  it('picks the default, none, or the spec’s own profile', () => {
    const missing = '/nonexistent/seccomp.json';
    expect(
      seccompFor({ Privileges: { Seccomp: { Mode: 'unconfined' } } }, DEFAULT_CAPABILITIES, missing),
    ).toBe(undefined);
    expect(seccompFor({ Privileged: true }, ALL_CAPABILITIES, missing)).toBe(undefined);
    const custom = seccompFor(
      { Privileges: { Seccomp: { Mode: 'custom', Profile: JSON.stringify(PROFILE) } } },
      DEFAULT_CAPABILITIES,
      missing,
    );
    expect(custom?.defaultErrnoRet).toBe(38);
    expect(() => seccompFor({}, DEFAULT_CAPABILITIES, missing)).toThrow(
      /no default seccomp profile.*nonexistent/,
    );
    expect(() =>
      seccompFor({ Privileges: { Seccomp: { Mode: 'custom', Profile: '{"syscalls":[]}' } } }, [], missing),
    ).toThrow(/not a seccomp profile: defaultAction/);
    expect(() => seccompFor({ Privileges: { Seccomp: { Mode: 'custom' } } }, [], missing)).toThrow(
      /names no profile/,
    );
  });
});

describe('compareKernel', () => {
  it('compares major.minor', () => {
    expect(compareKernel('6.1.0-13-amd64', '4.8')).toBeGreaterThan(0);
    expect(compareKernel('4.8.1', '4.8')).toBe(0);
    expect(compareKernel('4.4', '4.8')).toBeLessThan(0);
  });
});

describe('SeccompBpfCache', () => {
  const filter = (): OciSeccomp => resolveSeccomp(profile(), amd64, true);
  /** crun's compiled program as it leaves it in a container's state directory. */
  async function withBpf<T>(fn: (file: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-seccomp-cache-'));
    try {
      const file = join(dir, 'seccomp.bpf');
      await writeFile(file, Buffer.alloc(16, 7));
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('has creates of a profile being compiled wait for it, then hands them the program', async () => {
    await withBpf(async (file) => {
      const cache = new SeccompBpfCache();
      expect(await cache.lookup('a', filter())).toBeUndefined(); // a compiles
      let settled = false;
      const b = cache.lookup('b', filter()).finally(() => {
        settled = true;
      });
      const c = cache.lookup('c', filter());
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      await cache.learn('a', file);
      const program = Buffer.alloc(16, 7).toString('base64');
      expect(await b).toBe(program);
      expect(await c).toBe(program);
      expect(await cache.lookup('d', filter())).toBe(program);
    });
  });

  it('lets the next create compile when the first failed, and waits no longer than it is told', async () => {
    const cache = new SeccompBpfCache(50);
    expect(await cache.lookup('a', filter())).toBeUndefined();
    const b = cache.lookup('b', filter());
    cache.forget('a');
    expect(await b).toBeUndefined(); // b compiles now
    const started = performance.now();
    expect(await cache.lookup('c', filter())).toBeUndefined(); // b never says: c stops waiting
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    // Another profile is compiled on its own.
    const other = await cache.lookup('d', resolveSeccomp(profile(), { ...amd64, arch: 'arm64' }, true));
    expect(other).toBeUndefined();
  });
});
