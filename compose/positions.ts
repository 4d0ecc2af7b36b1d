// Where each value of a parsed YAML file came from, so an error about
// `services.web.ports[1]` can name file:line:col. Paths are lists of keys and indexes.

export type PathSegment = string | number;

export interface PosNode {
  line: number;
  col: number;
  /** Where the key of a mapping entry starts (errors about an entry point there). */
  keyLine?: number;
  keyCol?: number;
  /** Custom tag on the node (`!reset`, `!override`), if any. */
  tag?: 'reset' | 'override';
  keys?: Map<string, PosNode>;
  items?: PosNode[];
}

/** `services.web.ports[1]`; keys that are not plain words are quoted. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The node at `path`, or undefined when the file has no such value. */
export function nodeAt(root: PosNode | undefined, path: readonly PathSegment[]): PosNode | undefined {
  let node = root;
  for (const seg of path) {
    if (!node) return undefined;
    node = typeof seg === 'number' ? node.items?.[seg] : node.keys?.get(seg);
  }
  return node;
}

/** The node at `path` or, when it does not exist, its nearest existing ancestor. */
export function nearestNode(
  root: PosNode | undefined,
  path: readonly PathSegment[],
): { node: PosNode; depth: number } | undefined {
  if (!root) return undefined;
  let node = root;
  let depth = 0;
  for (const seg of path) {
    const next = typeof seg === 'number' ? node.items?.[seg] : node.keys?.get(seg);
    if (!next) break;
    node = next;
    depth++;
  }
  return { node, depth };
}
