// Each service's section of one compose file, as its text: from the service's key (and
// the comment lines right above it) to the line before the next key of `services:` or of
// the top level. Nothing is interpolated or normalized: it is what the user wrote, for
// the dashboard (the service label of lib/compose-source.ts). Pure.
import type { ComposeSourcePart } from '../lib/index.js';
import type { PosNode } from './positions.js';

const indentOf = (l: string) => l.length - l.trimStart().length;
const isBlankOrComment = (l: string) => l.trim() === '' || l.trimStart().startsWith('#');

export function serviceSections(text: string, pos: PosNode, file: string): Map<string, ComposeSourcePart> {
  const out = new Map<string, ComposeSourcePart>();
  const services = pos.keys?.get('services');
  if (!services?.keys || services.keyLine === undefined) return out;
  const lines = text.split(/\r?\n/);
  const servicesLine = services.keyLine;
  const keyLines = (n: PosNode) =>
    [...(n.keys?.values() ?? [])].flatMap((c) => (c.keyLine === undefined ? [] : [c.keyLine]));
  // Where the `services:` mapping ends: the next top-level key after it, or the end of the file.
  const end = Math.min(lines.length + 1, ...keyLines(pos).filter((l) => l > servicesLine));
  const starts = keyLines(services);
  for (const [name, node] of services.keys) {
    const at = node.keyLine;
    if (at === undefined) continue;
    const next = Math.min(end, ...starts.filter((l) => l > at));
    const indent = indentOf(lines[at - 1] ?? '');
    let first = at;
    // Comment lines right above the key, at its indentation, describe the service.
    while (
      first - 1 > servicesLine &&
      isBlankOrComment(lines[first - 2] ?? '') &&
      lines[first - 2]!.trim() !== ''
    ) {
      if (indentOf(lines[first - 2]!) !== indent) break;
      first--;
    }
    let last = Math.max(at, next - 1);
    // Blank lines and comments at the key's indentation or less before the next key are the next one's.
    while (
      last > at &&
      isBlankOrComment(lines[last - 1]!) &&
      (lines[last - 1]!.trim() === '' || indentOf(lines[last - 1]!) <= indent)
    )
      last--;
    out.set(name, { file, line: first, text: lines.slice(first - 1, last).join('\n') });
  }
  return out;
}
