// Docker's default capability set and its add/drop rules (ALL, with or without the
// CAP_ prefix, case-insensitive).
import { SkiffError } from '../../lib/index.js';

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

/** Every capability Linux 6.x knows, for `ALL`. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

function normalize(cap: string): string {
  const up = cap.trim().toUpperCase();
  if (up === 'ALL') return up;
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPABILITIES.includes(name)) {
    throw new SkiffError('invalid_argument', `unknown capability '${cap}'`, {
      hint: 'use a Linux capability name such as NET_ADMIN or CAP_SYS_TIME',
    });
  }
  return name;
}

/** Docker's order: start from the defaults, add, then drop (drop ALL wins over defaults, not over adds). */
export function effectiveCapabilities(add: string[] = [], drop: string[] = []): string[] {
  const adds = add.map(normalize);
  const drops = drop.map(normalize);
  let caps = new Set<string>(DEFAULT_CAPABILITIES);
  if (drops.includes('ALL')) caps = new Set();
  else for (const d of drops) caps.delete(d);
  if (adds.includes('ALL')) for (const c of ALL_CAPABILITIES) caps.add(c);
  else for (const a of adds) caps.add(a);
  if (!drops.includes('ALL')) for (const d of drops) if (!adds.includes(d)) caps.delete(d);
  return [...caps].sort();
}
