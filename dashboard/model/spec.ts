// A service's spec as its user wrote it, for the service page. A stack service carries
// its compose file sections (the deployer's label, lib/compose-source.ts). A service made
// through the API (`docker service create`, `skiff service create`) is shown as the spec
// without what nobody wrote: Docker's defaults, which the docker CLI sends filled in
// (update and rollback settings, `Runtime: container`, `EndpointSpec.Mode: vip`, …) and
// the manager adds (one replica, a name), empty values, and skiff's own bookkeeping
// labels; networks by name, secrets and configs by name without their IDs. Pure.
import {
  COMPOSE_SOURCE_LABEL,
  type ComposeSourcePart,
  decodeComposeSource,
  type Service,
  SPEC_HASH_LABEL,
} from '../../lib/index.js';
import type { NetworkNames } from './rows.js';

export type WrittenSpec =
  | { kind: 'compose'; parts: ComposeSourcePart[]; truncatedFrom?: number }
  | {
      kind: 'fields';
      /** The fields set, as YAML. */
      text: string;
      /** Why the compose text is not shown, when the label is there but unreadable. */
      problem?: string;
    };

const SECOND = 1e9;

/** Docker's documented defaults, by path in the spec: a field holding one was not written. */
const DEFAULTS: Record<string, unknown> = {
  'Mode.Replicated.Replicas': 1,
  'TaskTemplate.ForceUpdate': 0,
  'TaskTemplate.Runtime': 'container',
  'TaskTemplate.ContainerSpec.Isolation': 'default',
  'TaskTemplate.ContainerSpec.StopGracePeriod': 10 * SECOND,
  'TaskTemplate.RestartPolicy.Condition': 'any',
  'TaskTemplate.RestartPolicy.Delay': 5 * SECOND,
  'TaskTemplate.RestartPolicy.MaxAttempts': 0,
  'TaskTemplate.RestartPolicy.Window': 0,
  'TaskTemplate.Placement.MaxReplicas': 0,
  'EndpointSpec.Mode': 'vip',
  ...Object.fromEntries(
    ['UpdateConfig', 'RollbackConfig'].flatMap((k) => [
      [`${k}.Parallelism`, 1],
      [`${k}.Delay`, 0],
      [`${k}.FailureAction`, 'pause'],
      [`${k}.Monitor`, 5 * SECOND],
      [`${k}.MaxFailureRatio`, 0],
      [`${k}.Order`, 'stop-first'],
    ]),
  ),
};

/** Labels skiff's deployer adds for itself, not the user's. */
const OWN_LABELS = new Set([SPEC_HASH_LABEL, COMPOSE_SOURCE_LABEL]);

export function writtenSpec(s: Service, networks: NetworkNames = new Map()): WrittenSpec {
  const label = s.Spec.Labels?.[COMPOSE_SOURCE_LABEL];
  let problem: string | undefined;
  if (label !== undefined) {
    try {
      return { kind: 'compose', ...decodeComposeSource(label) };
    } catch (e) {
      problem = (e as Error).message;
    }
  }
  return { kind: 'fields', text: toYaml(fieldsSet(s.Spec, networks)), ...(problem ? { problem } : {}) };
}

/** The spec without defaults, empty values and skiff's own labels; networks by name. */
export function fieldsSet(spec: Service['Spec'], networks: NetworkNames = new Map()): unknown {
  const named = (list: { Target: string }[] | undefined) =>
    list?.map((a) => ({ ...a, Target: networks.get(a.Target) ?? a.Target }));
  const labels = Object.fromEntries(Object.entries(spec.Labels ?? {}).filter(([k]) => !OWN_LABELS.has(k)));
  const tmpl = spec.TaskTemplate;
  const cs = tmpl?.ContainerSpec;
  const shaped = {
    ...spec,
    Labels: labels,
    Networks: named(spec.Networks),
    TaskTemplate: tmpl && {
      ...tmpl,
      Networks: named(tmpl.Networks),
      ContainerSpec: cs && {
        ...cs,
        Secrets: cs.Secrets?.map(({ SecretID: _id, ...r }) => r),
        Configs: cs.Configs?.map(({ ConfigID: _id, ...r }) => r),
      },
    },
  };
  return prune(shaped, '') ?? {};
}

function prune(v: unknown, path: string): unknown {
  if (v === null || v === undefined || v === '' || v === false) return undefined;
  if (path in DEFAULTS && DEFAULTS[path] === v) return undefined;
  if (Array.isArray(v)) {
    const items = v.map((x) => prune(x, '')).filter((x) => x !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x, path ? `${path}.${k}` : k);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v;
}

/** Plain JSON-like data as block YAML (the page's reading form; strings quoted when YAML would misread them). */
export function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v
      .map((x) => {
        const body = toYaml(x, `${indent}  `);
        return isBlock(x) ? `${indent}- ${body.trimStart()}` : `${indent}- ${body}`;
      })
      .join('\n');
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    return entries
      .map(([k, x]) => {
        const key = scalar(k);
        return isBlock(x) ? `${indent}${key}:\n${toYaml(x, `${indent}  `)}` : `${indent}${key}: ${toYaml(x)}`;
      })
      .join('\n');
  }
  return scalar(v);
}

const isBlock = (x: unknown) =>
  x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0);

const SAFE = /^[A-Za-z0-9_./@+-][A-Za-z0-9_ ./@+=,:-]*$/;
/** Read as something else than the string, or as a sequence or mapping (`8080:80` is a YAML 1.1 number). */
const MISREAD =
  /^- |[: ]$|: | #|^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+(e[-+]?[0-9]+)?|[0-9]+(:[0-9]+)+)$/i;

function scalar(v: unknown): string {
  if (typeof v !== 'string') return String(v);
  return SAFE.test(v) && !MISREAD.test(v) ? v : JSON.stringify(v);
}
