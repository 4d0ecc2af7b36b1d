// Docker's default capability set and its add/drop rules (ALL, with or without the
// CAP_ prefix, case-insensitive).
import { ALL_CAPABILITIES, canonicalCapability, SkiffError } from '../../lib/index.js';

export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

export { ALL_CAPABILITIES };

function normalize(cap: string): string {
  const name = canonicalCapability(cap);
  if (name === undefined) {
    throw new SkiffError('invalid_argument', `unknown capability '${cap}'`, {
      hint: 'use a Linux capability name such as NET_ADMIN or CAP_SYS_TIME',
    });
  }
  return name;
}

/**
 * Docker's order: start from the defaults, add, then drop (drop ALL wins over defaults, not
 * over adds). `all` is what ALL means: the node's bounding set, as Docker takes it.
 */
export function effectiveCapabilities(
  add: string[] = [],
  drop: string[] = [],
  all: readonly string[] = ALL_CAPABILITIES,
): string[] {
  const adds = add.map(normalize);
  const drops = drop.map(normalize);
  let caps = new Set<string>(DEFAULT_CAPABILITIES);
  if (drops.includes('ALL')) caps = new Set();
  else for (const d of drops) caps.delete(d);
  if (adds.includes('ALL')) for (const c of all) caps.add(c);
  else for (const a of adds) caps.add(a);
  if (!drops.includes('ALL')) for (const d of drops) if (!adds.includes(d)) caps.delete(d);
  return [...caps].sort();
}
