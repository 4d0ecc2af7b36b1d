// Error collection with positions: every file loaded registers its position tree, and
// an error about a path of the merged model is placed in the file that defined it last.

import { formatPath, nearestNode, nodeAt, type PathSegment, type PosNode } from './positions.js';
import type { ComposeError } from './types.js';
import type { PosLookup } from './yaml.js';

interface Source {
  file: string;
  pos: PosLookup;
  /** For a service taken from `extends`: paths under `from` are looked up under `to`. */
  from?: PathSegment[];
  to?: PathSegment[];
}

export class Diagnostics {
  readonly errors: ComposeError[] = [];
  readonly warnings: ComposeError[] = [];
  private readonly sources: Source[] = [];

  addSource(file: string, pos: PosLookup): void {
    this.sources.push({ file, pos });
  }

  /** Registers an extended service so its inherited values can be located in the base file. */
  addExtendsSource(
    ownerFile: string,
    file: string,
    pos: PosLookup,
    from: PathSegment[],
    to: PathSegment[],
  ): void {
    let at = this.sources.length;
    for (let i = this.sources.length - 1; i >= 0; i--) {
      if (this.sources[i]!.file === ownerFile && !this.sources[i]!.from) {
        at = i;
        break;
      }
    }
    this.sources.splice(at, 0, { file, pos, from, to });
  }

  /** An error in a known file at a path of that file. */
  errorIn(
    file: string,
    pos: PosLookup | undefined,
    path: PathSegment[],
    message: string,
    warn = false,
  ): void {
    const where = place(pos?.(), path);
    (warn ? this.warnings : this.errors).push({ file, ...where, path: formatPath(path), message });
  }

  /** An error at a path of the merged model; finds the file that defined it. */
  error(path: PathSegment[], message: string, warn = false): void {
    const { file, line, col } = this.locate(path);
    (warn ? this.warnings : this.errors).push({ file, line, col, path: formatPath(path), message });
  }

  locate(path: PathSegment[]): { file: string; line: number; col: number } {
    let best: { file: string; line: number; col: number; depth: number } | undefined;
    for (let i = this.sources.length - 1; i >= 0; i--) {
      const s = this.sources[i]!;
      let p = path;
      if (s.from && s.to) {
        if (!startsWith(path, s.from)) continue;
        p = [...s.to, ...path.slice(s.from.length)];
      }
      const tree = s.pos();
      if (nodeAt(tree, p)) return { file: s.file, ...place(tree, p) };
      const near = nearestNode(tree, p);
      if (near && (!best || near.depth > best.depth))
        best = { file: s.file, ...place(tree, p), depth: near.depth };
    }
    return best ?? { file: this.sources[0]?.file ?? '', line: 0, col: 0 };
  }
}

function startsWith(path: PathSegment[], prefix: PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => path[i] === s);
}

/** Line and column for a path: the entry's key for mapping entries, else the value. */
function place(pos: PosNode | undefined, path: PathSegment[]): { line: number; col: number } {
  const near = nearestNode(pos, path);
  if (!near) return { line: 0, col: 0 };
  const n = near.node;
  if (n.keyLine !== undefined && (typeof path[near.depth - 1] === 'string' || near.depth < path.length)) {
    return { line: n.keyLine, col: n.keyCol ?? 1 };
  }
  return { line: n.line, col: n.col };
}

export function formatComposeErrors(errors: readonly ComposeError[]): string {
  return errors
    .map((e) => {
      const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : e.file;
      return `${where}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
    })
    .join('\n');
}
