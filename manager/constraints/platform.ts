// Platform matching: whether a node runs one of the platforms a task asks for.

import type { Node, Platform } from '../../lib/index.js';

/** Docker reports x86_64/aarch64 where images say amd64/arm64. */
export function normalizeArch(arch: string): string {
  const a = arch.toLowerCase();
  if (a === 'x86_64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  return a;
}

/** Whether the node runs one of the platforms (an empty list accepts any node). */
export function nodeRunsPlatforms(node: Node, platforms: readonly Platform[]): boolean {
  if (platforms.length === 0) return true;
  const p = node.Description?.Platform;
  if (!p) return false;
  const arch = normalizeArch(p.Architecture ?? '');
  const os = (p.OS ?? '').toLowerCase();
  return platforms.some(
    (want) =>
      (!want.Architecture || normalizeArch(want.Architecture) === arch) &&
      (!want.OS || want.OS.toLowerCase() === os),
  );
}
