// Resolves a Docker `User` ("name", "uid", "name:group", "uid:gid") to numeric ids
// through the image's /etc/passwd and /etc/group, the way docker does: a numeric id
// missing from passwd is still accepted, a name missing from it is an error.
import { SkiffError } from '../../lib/index.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = toId(f[2]);
    const gid = toId(f[3]);
    if (f[0] === undefined || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = toId(f[2]);
    if (f[0] === undefined || gid === undefined) continue;
    const members = (f[3] ?? '').split(',').filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

/**
 * `user` as written in the spec or image ('' means root); `extraGroups` are the
 * spec's Groups (names or gids). passwd/group are the image's files (empty if absent).
 */
export function resolveUser(
  user: string | undefined,
  passwd: PasswdEntry[],
  groups: GroupEntry[],
  extraGroups: string[] = [],
): ResolvedUser {
  const spec = (user ?? '').trim();
  const [userPart = '', groupPart] = spec === '' ? ['0'] : spec.split(':', 2);
  let entry: PasswdEntry | undefined;
  let uid: number;
  const numericUid = toId(userPart);
  if (numericUid !== undefined) {
    uid = numericUid;
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw new SkiffError('invalid_argument', `user '${userPart}' is not in the image's /etc/passwd`, {
        hint: 'use a numeric uid[:gid] or a user the image defines',
      });
    }
    uid = entry.uid;
  }
  let gid: number;
  if (groupPart !== undefined && groupPart !== '') {
    gid = lookupGroup(groupPart, groups);
  } else {
    gid = entry?.gid ?? 0;
  }
  const additional = new Set<number>();
  // Supplementary groups from /etc/group only when the group was not given explicitly.
  if (entry && (groupPart === undefined || groupPart === '')) {
    for (const g of groups) if (g.members.includes(entry.name) && g.gid !== gid) additional.add(g.gid);
  }
  for (const g of extraGroups) additional.add(lookupGroup(g, groups));
  additional.delete(gid);
  return { uid, gid, additionalGids: [...additional].sort((a, b) => a - b), home: entry?.home ?? '/' };
}

function lookupGroup(group: string, groups: GroupEntry[]): number {
  const numeric = toId(group);
  if (numeric !== undefined) return numeric;
  const g = groups.find((e) => e.name === group);
  if (!g) {
    throw new SkiffError('invalid_argument', `group '${group}' is not in the image's /etc/group`, {
      hint: 'use a numeric gid or a group the image defines',
    });
  }
  return g.gid;
}

function toId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}
