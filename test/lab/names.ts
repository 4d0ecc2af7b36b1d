// Names of lab resources. Every name starts with the run prefix `skl<owner pid>_<n>`
// (base 36) so parallel runs never collide, and a sweeper can tell from a name alone
// which process owns it. Interface names stay within the kernel's 15 characters.
import { threadId } from 'node:worker_threads';

// The prefix ends the name or is followed by `-`, so `<prefix>-sw` parses back to it.
const PREFIX_RE = /^skl([0-9a-z]{1,7})_([0-9a-z]{1,6})(?=-|$)/;

let counter = 0;

/**
 * A prefix no other live run uses: owner pid, then a per-process counter combined with
 * the worker thread id (unique below 64 threads) — at most 13 characters, leaving room
 * for `-r` within the 15-character interface name limit.
 */
export function newRunPrefix(pid = process.pid): string {
  counter += 1;
  return `skl${pid.toString(36)}_${(counter * 64 + (threadId % 64)).toString(36)}`;
}

/** The run prefix and owner pid a lab resource name starts with, if it is one. */
export function parseRunName(name: string): { prefix: string; ownerPid: number } | undefined {
  const m = PREFIX_RE.exec(name);
  if (!m?.[1]) return undefined;
  return { prefix: m[0], ownerPid: Number.parseInt(m[1], 36) };
}

export function switchNetns(prefix: string): string {
  return `${prefix}-sw`;
}

export function hostNetns(prefix: string, hostName: string): string {
  return `${prefix}-${hostName}`;
}

/** The root-namespace end of the optional link from the test process to the switch. */
export function rootLinkName(prefix: string): string {
  return `${prefix}-r`;
}
