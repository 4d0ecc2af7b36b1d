// A service's security keys checked where the file says them, so a key skiff cannot
// honour is refused with file:line:col instead of being dropped on the way to the
// service spec: capabilities, sysctls, ulimits, devices, security_opt (with a seccomp
// profile file read here, at load time), userns_mode, device_cgroup_rules, and the
// namespace keys (pid, ipc, uts, cgroup, network_mode).

import {
  canonicalCapability,
  deviceProblem,
  parseSecurityOpt,
  privilegesOf,
  RLIMIT_TYPES,
  type SecurityOpt,
  seccompProfileProblem,
  sysctlProblem,
} from '../lib/index.js';
import type { PathSegment } from './positions.js';
import type { Diagnostics } from './sources.js';
import type { ComposeService } from './types.js';

export interface SecurityContext {
  diag: Pick<Diagnostics, 'error'>;
  /** Reads a seccomp profile file; throws an error with `code` when it cannot. */
  readText: (path: string) => string;
}

/** Checks the security keys of a converted service and sets `privileges` from security_opt. */
export function checkServiceSecurity(name: string, s: ComposeService, ctx: SecurityContext): void {
  const at = (...p: PathSegment[]): PathSegment[] => ['services', name, ...p];
  const { diag } = ctx;
  for (const key of ['cap_add', 'cap_drop'] as const) {
    (s[key] ?? []).forEach((cap, i) => {
      if (canonicalCapability(String(cap)) === undefined)
        diag.error(at(key, i), `"${cap}" is not a Linux capability (e.g. NET_ADMIN, SYS_TIME or ALL)`);
    });
  }
  for (const k of Object.keys(s.sysctls ?? {})) {
    const problem = sysctlProblem(k);
    if (problem) diag.error(at('sysctls', k), problem);
  }
  for (const k of Object.keys(s.ulimits ?? {})) {
    if (RLIMIT_TYPES[k] === undefined)
      diag.error(at('ulimits', k), `"${k}" is not a ulimit (one of ${Object.keys(RLIMIT_TYPES).join(', ')})`);
  }
  (s.devices ?? []).forEach((d, i) => {
    const problem = deviceProblem({
      PathOnHost: String(d.source ?? ''),
      PathInContainer: String(d.target ?? d.source ?? ''),
      ...(d.permissions !== undefined ? { CgroupPermissions: String(d.permissions) } : {}),
    });
    if (problem) diag.error(at('devices', i), problem);
  });
  if (s.device_cgroup_rules !== undefined) {
    diag.error(
      at('device_cgroup_rules'),
      'skiff cannot honour device_cgroup_rules: a container may open only the devices skiff creates in it; list them under devices:',
    );
  }
  if (s.userns_mode !== undefined && s.userns_mode !== 'host') {
    diag.error(
      at('userns_mode'),
      `userns_mode "${String(s.userns_mode)}" cannot be honoured: skiff has no user-namespace remapping (only "host", its behaviour, is accepted)`,
    );
  }
  checkNamespaces(s, at, diag);
  const opts = Array.isArray(s.security_opt) ? (s.security_opt as unknown[]).map(String) : [];
  const parsed: SecurityOpt[] = [];
  const profiles = new Map<string, string>();
  opts.forEach((o, i) => {
    const p = parseSecurityOpt(o);
    if (p.kind === 'refused') {
      diag.error(at('security_opt', i), p.message);
      return;
    }
    if (p.kind === 'seccomp' && p.mode === 'custom') {
      const text = readProfile(p.file, ctx, at('security_opt', i));
      if (text === undefined) return;
      profiles.set(p.file, text);
    }
    parsed.push(p);
  });
  if (parsed.length > 0) s.privileges = privilegesOf(parsed, (f) => profiles.get(f) ?? '');
}

/**
 * Every container has its own PID, IPC, UTS, mount and network namespace and none of
 * cgroups (the host's, as `cgroup: host` asks), and a service's spec has no field to
 * share one with the host or another container: such keys are refused, not dropped.
 */
function checkNamespaces(
  s: ComposeService,
  at: (...p: PathSegment[]) => PathSegment[],
  diag: Pick<Diagnostics, 'error'>,
): void {
  const value = (k: string): string | undefined => {
    const v = s[k];
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const sharing = (key: string, v: string, what: string) =>
    v === 'host'
      ? `${key} "host" cannot be honoured: skiff runs every container in ${what} of its own, never the host's`
      : `${key} "${v}" cannot be honoured: skiff runs every container in ${what} of its own and cannot share it`;
  const pid = value('pid');
  if (pid !== undefined) diag.error(at('pid'), sharing('pid', pid, 'a PID namespace'));
  const ipc = value('ipc');
  // private and shareable are what skiff does: an IPC namespace of its own that nothing joins.
  if (ipc !== undefined && ipc !== 'private' && ipc !== 'shareable')
    diag.error(at('ipc'), `${sharing('ipc', ipc, 'an IPC namespace')} (private and shareable are accepted)`);
  const uts = value('uts');
  if (uts !== undefined) diag.error(at('uts'), sharing('uts', uts, 'a UTS namespace (its own hostname)'));
  const cgroup = value('cgroup');
  if (cgroup !== undefined && cgroup !== 'host')
    diag.error(
      at('cgroup'),
      `cgroup "${cgroup}" cannot be honoured: skiff gives containers no cgroup namespace (as cgroup: host, which is accepted)`,
    );
  const mode = value('network_mode');
  if (mode === 'none') {
    // No networks: the container's namespace has only its loopback, as Docker's none.
    if ((s.ports ?? []).length > 0)
      diag.error(at('ports'), 'a service with network_mode "none" has no network to publish ports on');
  } else if (mode !== undefined) {
    diag.error(
      at('network_mode'),
      `${sharing('network_mode', mode, 'a network namespace')}; attach it to networks: instead (none is accepted)`,
    );
  }
}

function readProfile(file: string, ctx: SecurityContext, path: PathSegment[]): string | undefined {
  let text: string;
  try {
    text = ctx.readText(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e);
    ctx.diag.error(path, `cannot read the seccomp profile ${file}: ${why}`);
    return undefined;
  }
  const problem = seccompProfileProblem(text);
  if (problem) {
    ctx.diag.error(path, `the seccomp profile ${file} ${problem}`);
    return undefined;
  }
  return text;
}
