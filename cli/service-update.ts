// What `skiff service update`'s flags do to a service's spec, as `docker service update`
// does it: a pure function, so the CLI only fetches, applies and writes.
import type { ContainerSpec, PortConfig, Privileges, ServiceSpec } from '../lib/index.js';
import {
  canonicalCapability,
  parseSecurityOpt,
  privilegesOf,
  type SecurityOpt,
  seccompProfileProblem,
} from '../lib/index.js';
import { CliUsageError } from './output.js';

export interface ServiceUpdateFlags {
  image?: string;
  replicas?: number;
  envAdd: string[];
  envRm: string[];
  publishAdd: string[];
  publishRm: string[];
  labelAdd: string[];
  labelRm: string[];
  constraintAdd: string[];
  constraintRm: string[];
  /** Capabilities added to Docker's default set (`--cap-add`). */
  capAdd?: string[];
  /** Capabilities taken from it (`--cap-drop`). */
  capDrop?: string[];
  /** `--security-opt`, already folded into Privileges (see securityOptPrivileges). */
  privileges?: Privileges;
  force?: boolean;
}

/** The spec after the flags; the input is left as it was. */
export function applyServiceUpdate(current: ServiceSpec, o: ServiceUpdateFlags): ServiceSpec {
  const spec = structuredClone(current);
  const cs = spec.TaskTemplate?.ContainerSpec ?? { Image: '' };
  spec.TaskTemplate = { ...spec.TaskTemplate, ContainerSpec: cs };
  if (o.image) cs.Image = o.image;
  if (o.replicas !== undefined) {
    if (!spec.Mode?.Replicated && spec.Mode !== undefined)
      throw new CliUsageError('--replicas applies to replicated services only');
    spec.Mode = { Replicated: { Replicas: o.replicas } };
  }
  if (o.envAdd.length || o.envRm.length) {
    const drop = new Set([...o.envRm, ...o.envAdd.map((e) => e.split('=')[0])]);
    cs.Env = [...(cs.Env ?? []).filter((e) => !drop.has(e.split('=')[0] ?? '')), ...o.envAdd];
  }
  if (o.labelAdd.length || o.labelRm.length) {
    const labels = { ...spec.Labels };
    for (const key of o.labelRm) delete labels[key];
    for (const pair of o.labelAdd) {
      const i = pair.indexOf('=');
      labels[i < 0 ? pair : pair.slice(0, i)] = i < 0 ? '' : pair.slice(i + 1);
    }
    spec.Labels = labels;
  }
  if (o.constraintAdd.length || o.constraintRm.length) {
    const drop = new Set([...o.constraintRm, ...o.constraintAdd].map(normalizeConstraint));
    const kept = (spec.TaskTemplate.Placement?.Constraints ?? []).filter(
      (c) => !drop.has(normalizeConstraint(c)),
    );
    spec.TaskTemplate.Placement = {
      ...spec.TaskTemplate.Placement,
      Constraints: [...kept, ...o.constraintAdd],
    };
  }
  if (o.publishAdd.length || o.publishRm.length) {
    const added = o.publishAdd.map(parsePublish);
    // docker's --publish-rm names the target port (80, 80/udp) or the whole mapping.
    const removed = o.publishRm.map(parsePublishRm);
    const ports = (spec.EndpointSpec?.Ports ?? []).filter(
      (p) =>
        !removed.some(
          (r) =>
            r.target === p.TargetPort &&
            r.protocol === (p.Protocol ?? 'tcp') &&
            (r.published === undefined || r.published === p.PublishedPort),
        ) && !added.some((a) => a.PublishedPort === p.PublishedPort && a.Protocol === (p.Protocol ?? 'tcp')),
    );
    spec.EndpointSpec = { ...spec.EndpointSpec, Ports: [...ports, ...added] };
  }
  applyCapabilities(cs, o.capAdd ?? [], o.capDrop ?? []);
  // Later options win, as in docker: what the flags set replaces the same field only.
  if (o.privileges) cs.Privileges = { ...cs.Privileges, ...o.privileges };
  if (o.force) spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
  return spec;
}

/** `--publish 8080:80[/udp]` as the API's port config (ingress mode, as docker's default). */
export function parsePublish(p: string): PortConfig & { Protocol: 'tcp' | 'udp' } {
  const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(p);
  const published = Number(m?.[1]);
  const target = Number(m?.[2]);
  if (!m || published < 1 || published > 65535 || target < 1 || target > 65535)
    throw new CliUsageError(`invalid --publish "${p}": use PUBLISHED:TARGET[/tcp|udp], e.g. 8080:80`);
  return {
    PublishedPort: published,
    TargetPort: target,
    Protocol: (m[3] ?? 'tcp') as 'tcp' | 'udp',
    PublishMode: 'ingress',
  };
}

function parsePublishRm(p: string): { target: number; published?: number; protocol: string } {
  const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(p);
  if (!m)
    throw new CliUsageError(
      `invalid --publish-rm "${p}": use TARGET[/tcp|udp] or PUBLISHED:TARGET[/tcp|udp], e.g. 80`,
    );
  return {
    target: Number(m[2]),
    ...(m[1] !== undefined ? { published: Number(m[1]) } : {}),
    protocol: m[3] ?? 'tcp',
  };
}

/** `node.role == worker` and `node.role==worker` are the same constraint. */
function normalizeConstraint(c: string): string {
  return c.replace(/\s+/g, '');
}

/**
 * `--cap-add` / `--cap-drop` as docker service create/update applies them: names as
 * `CAP_…` (or `ALL`); adding a capability takes it off the drop list and the reverse.
 */
export function applyCapabilities(cs: ContainerSpec, add: readonly string[], drop: readonly string[]): void {
  if (add.length === 0 && drop.length === 0) return;
  const canon = (flag: string) => (c: string) => {
    const name = canonicalCapability(c);
    if (name === undefined)
      throw new CliUsageError(`${flag}: "${c}" is not a Linux capability (e.g. NET_ADMIN, SYS_TIME or ALL)`);
    return name;
  };
  const added = add.map(canon('--cap-add'));
  const dropped = drop.map(canon('--cap-drop'));
  const both = added.filter((c) => dropped.includes(c));
  if (both.length) throw new CliUsageError(`${both.join(', ')}: both added and dropped`);
  const keepAdd = (cs.CapabilityAdd ?? []).filter((c) => !dropped.includes(canonicalCapability(c) ?? c));
  const keepDrop = (cs.CapabilityDrop ?? []).filter((c) => !added.includes(canonicalCapability(c) ?? c));
  const capAdd = [...new Set([...keepAdd, ...added])];
  const capDrop = [...new Set([...keepDrop, ...dropped])];
  if (capAdd.length) cs.CapabilityAdd = capAdd;
  else delete cs.CapabilityAdd;
  if (capDrop.length) cs.CapabilityDrop = capDrop;
  else delete cs.CapabilityDrop;
}

/**
 * `--security-opt` values (skiff's extension of docker service create/update, as compose's
 * `security_opt`) as the spec's Privileges; a seccomp profile file is read here, on the
 * CLI's side, and carried in the spec so every node applies the same one. What skiff
 * cannot honour is refused with the reason.
 */
export function securityOptPrivileges(
  opts: readonly string[],
  readText: (file: string) => string,
): Privileges | undefined {
  if (opts.length === 0) return undefined;
  const profiles = new Map<string, string>();
  const parsed: SecurityOpt[] = opts.map((o) => {
    const p = parseSecurityOpt(o);
    if (p.kind === 'refused') throw new CliUsageError(`--security-opt ${p.message}`);
    if (p.kind === 'seccomp' && p.mode === 'custom') {
      let text: string;
      try {
        text = readText(p.file);
      } catch (e) {
        throw new CliUsageError(
          `--security-opt: cannot read the seccomp profile ${p.file}: ${(e as Error).message}`,
        );
      }
      const problem = seccompProfileProblem(text);
      if (problem) throw new CliUsageError(`--security-opt: the seccomp profile ${p.file} ${problem}`);
      profiles.set(p.file, text);
    }
    return p;
  });
  return privilegesOf(parsed, (f) => profiles.get(f) ?? '');
}
