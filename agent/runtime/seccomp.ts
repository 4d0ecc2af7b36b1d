// Seccomp: which filter a container runs under, in the OCI `linux.seccomp` shape crun
// takes. The default profile is the one containers-common ships
// (/usr/share/containers/seccomp.json, what podman uses), read once per node and
// resolved per container against its bounding capabilities, the node's architecture
// and kernel, as Docker and podman resolve their own. On top of it skiff applies
// Docker's capability gates where podman's profile is looser (podman allows unshare,
// mount, setns, … to every container so rootless podman can nest): without
// CAP_SYS_ADMIN a container cannot create namespaces (`unshare -U` fails as under
// Docker), mount, or switch namespaces.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import type { ContainerSpec } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

export const DEFAULT_SECCOMP_PROFILE = '/usr/share/containers/seccomp.json';

/** One rule's argument check, as both formats write it. */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** `linux.seccomp` of an OCI runtime config. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: OciSeccompRule[];
}

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

/** A profile as Docker and containers-common write it (a superset of the OCI shape). */
interface ProfileRule extends OciSeccompRule {
  name?: string;
  includes?: Filter;
  excludes?: Filter;
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  flags?: string[];
  syscalls?: ProfileRule[] | null;
}

/** What the profile is resolved against. */
export interface SeccompTarget {
  /** The container's bounding capabilities (CAP_…). */
  capabilities: readonly string[];
  /** Go's name for the node's architecture (amd64, arm64, …), as profiles write it. */
  arch: string;
  /** The node's kernel release, for `minKernel`. */
  kernel: string;
}

const SCMP_ARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  x86: 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
  riscv64: 'SCMP_ARCH_RISCV64',
};

const NODE_TO_GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  ia32: 'x86',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/**
 * Docker's default profile allows these only to a container holding one of the
 * capabilities; containers-common's allows most of them to every container.
 */
const DOCKER_GATES: { anyOf: string[]; names: string[] }[] = [
  {
    anyOf: ['CAP_SYS_ADMIN'],
    names: [
      'bpf',
      'clone',
      'clone3',
      'fanotify_init',
      'fsconfig',
      'fsmount',
      'fsopen',
      'fspick',
      'lookup_dcookie',
      'mount',
      'mount_setattr',
      'move_mount',
      'name_to_handle_at',
      'open_tree',
      'perf_event_open',
      'pivot_root',
      'quotactl',
      'quotactl_fd',
      'setdomainname',
      'sethostname',
      'setns',
      'umount',
      'umount2',
      'unshare',
    ],
  },
  { anyOf: ['CAP_SYS_ADMIN', 'CAP_SYSLOG'], names: ['syslog'] },
  { anyOf: ['CAP_SYS_BOOT'], names: ['reboot'] },
  {
    anyOf: ['CAP_SYS_PTRACE'],
    names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev'],
  },
  { anyOf: ['CAP_SYS_NICE'], names: ['get_mempolicy', 'mbind', 'set_mempolicy'] },
  // The kernel keyring is not namespaced: Docker allows it to nobody.
  { anyOf: [], names: ['add_key', 'keyctl', 'request_key'] },
];

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may create none of them. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const EPERM = 1;
const ENOSYS = 38;

/** The node's Go architecture name. */
export function nodeArch(): string {
  return NODE_TO_GO_ARCH[process.arch] ?? process.arch;
}

export function seccompTarget(capabilities: readonly string[]): SeccompTarget {
  return { capabilities, arch: nodeArch(), kernel: release() };
}

/** Parses a profile (Docker/containers-common format, or OCI's); a bad one is the caller's error. */
export function parseSeccompProfile(text: string, what: string): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SkiffError('invalid_argument', `${what} is not JSON: ${(e as Error).message}`);
  }
  const bad = (why: string) =>
    new SkiffError('invalid_argument', `${what} is not a seccomp profile: ${why}`, {
      hint: 'give a profile in the format of Docker’s default.json or the OCI linux.seccomp section',
    });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const p = raw as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string' || !p.defaultAction.startsWith('SCMP_ACT_'))
    throw bad('defaultAction is missing or not an SCMP_ACT_ action');
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls))
    throw bad('syscalls is not a list');
  for (const [i, r] of ((p.syscalls as unknown[] | null | undefined) ?? []).entries()) {
    if (typeof r !== 'object' || r === null) throw bad(`syscalls[${i}] is not an object`);
    const rule = r as Record<string, unknown>;
    const names = rule.names ?? (rule.name !== undefined ? [rule.name] : undefined);
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
      throw bad(`syscalls[${i}] has no list of names`);
    if (typeof rule.action !== 'string' || !rule.action.startsWith('SCMP_ACT_'))
      throw bad(`syscalls[${i}].action is not an SCMP_ACT_ action`);
    if (rule.args !== undefined && rule.args !== null && !Array.isArray(rule.args))
      throw bad(`syscalls[${i}].args is not a list`);
  }
  return p as unknown as Profile;
}

/**
 * A profile resolved for one container: rules whose includes/excludes do not fit its
 * capabilities, the architecture or the kernel dropped, the architecture list taken
 * from `archMap`. `dockerGates` adds Docker's capability gates (the default profile).
 */
export function resolveSeccomp(profile: Profile, target: SeccompTarget, dockerGates: boolean): OciSeccomp {
  const caps = new Set(target.capabilities);
  const out: OciSeccomp = { defaultAction: profile.defaultAction, syscalls: [] };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  const arches = architectures(profile, target.arch);
  if (arches.length > 0) out.architectures = arches;

  const gated = new Set<string>();
  if (dockerGates) {
    for (const g of DOCKER_GATES)
      if (!g.anyOf.some((c) => caps.has(c))) for (const n of g.names) gated.add(n);
  }
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule, caps, target)) continue;
    let names = rule.names ?? (rule.name !== undefined ? [rule.name] : []);
    if (rule.action === 'SCMP_ACT_ALLOW' && gated.size > 0) names = names.filter((n) => !gated.has(n));
    if (names.length === 0) continue;
    const r: OciSeccompRule = { names: [...names], action: rule.action };
    if (rule.errnoRet !== undefined) r.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0)
      r.args = rule.args.map((a) => ({
        index: a.index,
        value: a.value,
        valueTwo: a.valueTwo ?? 0,
        op: a.op,
      }));
    out.syscalls.push(r);
  }
  if (gated.size > 0) {
    const denied = [...gated].filter((n) => n !== 'clone' && n !== 'clone3').sort();
    out.syscalls.push({ names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM });
    if (gated.has('clone')) {
      // A plain fork or thread, never a new namespace (s390 swaps clone's first arguments).
      const index = target.arch === 's390x' || target.arch === 's390' ? 1 : 0;
      out.syscalls.push({
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      });
    }
    // clone3's flags sit behind a pointer seccomp cannot read: ENOSYS makes libc fall back to clone.
    if (gated.has('clone3'))
      out.syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return out;
}

function architectures(profile: Profile, arch: string): string[] {
  if (profile.archMap && profile.archMap.length > 0) {
    const main = SCMP_ARCH[arch];
    const entry = profile.archMap.find((a) => a.architecture === main);
    return entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  }
  return [...(profile.architectures ?? [])];
}

function applies(rule: ProfileRule, caps: Set<string>, target: SeccompTarget): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(target.arch)) return false;
  if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => caps.has(c))) return false;
  if (inc.minKernel && compareKernel(target.kernel, inc.minKernel) < 0) return false;
  if (exc.arches?.includes(target.arch)) return false;
  if (exc.caps?.some((c) => caps.has(c))) return false;
  if (exc.minKernel && compareKernel(target.kernel, exc.minKernel) >= 0) return false;
  return true;
}

/** Compares kernel releases by major.minor (6.1.0-13-amd64 vs 4.8). */
export function compareKernel(a: string, b: string): number {
  const parse = (v: string) => (v.match(/^(\d+)(?:\.(\d+))?/) ?? []).slice(1).map((n) => Number(n ?? 0));
  const [a1 = 0, a2 = 0] = parse(a);
  const [b1 = 0, b2 = 0] = parse(b);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** The node's default profile: read once per path; a missing or bad file is remembered too. */
export type DefaultProfile =
  | { ok: true; path: string; profile: Profile }
  | { ok: false; path: string; error: string };

const loaded = new Map<string, DefaultProfile>();

export function loadDefaultSeccomp(path: string = DEFAULT_SECCOMP_PROFILE): DefaultProfile {
  let p = loaded.get(path);
  if (!p) {
    try {
      p = { ok: true, path, profile: parseSeccompProfile(readFileSync(path, 'utf8'), path) };
    } catch (e) {
      p = { ok: false, path, error: e instanceof Error ? e.message : String(e) };
    }
    loaded.set(path, p);
  }
  return p;
}

/**
 * The filter a container runs under, or none (unconfined). Docker's rules: `unconfined`
 * and a privileged container run without one; `custom` runs the spec's profile as it
 * is; otherwise the node's default, and a node without it refuses the container rather
 * than run it unconfined behind the user's back.
 */
export function seccompFor(
  spec: Pick<ContainerSpec, 'Privileges' | 'Privileged'>,
  capabilities: readonly string[],
  defaultProfilePath: string = DEFAULT_SECCOMP_PROFILE,
): OciSeccomp | undefined {
  // Privileged: every capability and no filter, as `docker run --privileged`.
  if (spec.Privileged === true) return undefined;
  const mode = spec.Privileges?.Seccomp?.Mode ?? 'default';
  const target = seccompTarget(capabilities);
  switch (mode) {
    case 'unconfined':
      return undefined;
    case 'custom': {
      const text = spec.Privileges?.Seccomp?.Profile;
      if (!text) {
        throw new SkiffError('invalid_argument', 'seccomp mode custom names no profile', {
          hint: 'give the profile JSON, or use seccomp=unconfined',
        });
      }
      return resolveSeccomp(parseSeccompProfile(text, 'the custom seccomp profile'), target, false);
    }
    case 'default': {
      const d = loadDefaultSeccomp(defaultProfilePath);
      if (!d.ok) {
        throw new SkiffError(
          'unavailable',
          `this node has no default seccomp profile: ${d.path} cannot be read (${d.error})`,
          {
            hint: 'install golang-github-containers-common (scripts/setup does), or run the service with --security-opt seccomp=unconfined',
          },
        );
      }
      return resolveSeccomp(d.profile, target, true);
    }
    default:
      throw new SkiffError('invalid_argument', `unknown seccomp mode '${String(mode)}'`, {
        hint: 'use default, unconfined or custom',
      });
  }
}

/** crun's annotation for a filter already compiled (base64 of the raw BPF program). */
export const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

/**
 * Compiled filters by profile, learnt from crun. crun compiles `linux.seccomp` with
 * libseccomp at every create, ~50 ms for a full profile on three architectures (x86-64,
 * x86, x32) on a small machine, and keeps the result in its state directory
 * (`seccomp.bpf`, what its exec uses). The first container with a given resolved
 * profile is created from the profile; the next ones get crun's own compiled program
 * back in SECCOMP_BPF_ANNOTATION, keyed by a digest of the exact profile, so they cost
 * nothing. Creates that come while the first is compiling wait for it (up to
 * COMPILE_WAIT_MS) instead of each compiling the same profile: a deploy's burst of 15
 * containers on a fresh node compiled it 15 times, ~250 ms of CPU on two cores. Per
 * process: a crun or libseccomp upgrade takes effect at the next start.
 */
export class SeccompBpfCache {
  private readonly compiled = new Map<string, string>();
  /** The profile key of each container being created from its profile (it compiles). */
  private readonly expected = new Map<string, string>();
  /** Per profile key, the create compiling it: settled when it learnt or failed. */
  private readonly compiling = new Map<string, { done: Promise<void>; settle: () => void }>();

  constructor(private readonly waitMs = COMPILE_WAIT_MS) {}

  /**
   * The compiled program for `seccomp`, or none yet: then this container's create
   * compiles it (call `learn` after the create, `forget` when it failed). Waits while
   * another create compiles the same profile.
   */
  async lookup(containerId: string, seccomp: OciSeccomp): Promise<string | undefined> {
    const key = createHash('sha256').update(JSON.stringify(seccomp)).digest('hex');
    const deadline = performance.now() + this.waitMs;
    for (;;) {
      const bpf = this.compiled.get(key);
      if (bpf !== undefined) return bpf;
      const inFlight = this.compiling.get(key);
      const left = deadline - performance.now();
      // None compiling, or it takes too long (a create stuck elsewhere): compile here too.
      if (!inFlight || left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        inFlight.done,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    this.expected.set(containerId, key);
    if (!this.compiling.has(key)) {
      let settle = () => {};
      const done = new Promise<void>((resolve) => {
        settle = resolve;
      });
      this.compiling.set(key, { done, settle });
    }
    return undefined;
  }

  /** After a create from the profile: keep what crun compiled (`<crun root>/<id>/seccomp.bpf`). */
  async learn(containerId: string, bpfFile: string): Promise<void> {
    const key = this.expected.get(containerId);
    if (key === undefined) return;
    this.expected.delete(containerId);
    try {
      const bpf = await readFile(bpfFile);
      // A BPF program is whole 8-byte instructions; anything else is not crun's output.
      if (bpf.length > 0 && bpf.length % 8 === 0) this.compiled.set(key, bpf.toString('base64'));
    } catch {
      // Not there (another runtime, or the create failed): compiled again next time.
    } finally {
      this.release(key);
    }
  }

  /** A create that failed learns nothing; the next one waiting compiles. */
  forget(containerId: string): void {
    const key = this.expected.get(containerId);
    this.expected.delete(containerId);
    if (key !== undefined) this.release(key);
  }

  /** The compile of `key` ended: those waiting look again (once no other create of it compiles). */
  private release(key: string): void {
    if ([...this.expected.values()].includes(key)) return;
    this.compiling.get(key)?.settle();
    this.compiling.delete(key);
  }
}

/**
 * How long a create waits for another compiling the same profile before compiling it
 * itself: a create (conmon + crun) takes well under a second even on a busy node.
 */
export const COMPILE_WAIT_MS = 2_000;
