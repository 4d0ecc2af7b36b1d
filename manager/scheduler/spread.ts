// The tree of placement preferences: each `spread=` level splits the candidate nodes
// by one attribute's value (nodes without it form their own branch), the way
// swarmkit nests them. A task walks down to the branch holding the fewest tasks of
// its service, then takes the least-loaded node of that leaf from a heap.

import { type ConstraintKey, nodeValue } from '../constraints/index.js';
import { MinHeap } from './heap.js';
import type { NodeState } from './node-state.js';

export interface Branch {
  key: string;
  parent: Branch | undefined;
  /** Tasks of the service being placed, in this subtree. */
  serviceTasks: number;
  children: Branch[];
  /** Only on leaves: the nodes that can still take a task, least loaded first. */
  heap: MinHeap<NodeState> | undefined;
  exhausted: boolean;
}

export function buildTree(
  candidates: readonly NodeState[],
  spreadBy: readonly ConstraintKey[],
  serviceId: string,
): Branch {
  for (const ns of candidates) ns.serviceTasks = ns.activeByService.get(serviceId) ?? 0;
  const less = (a: NodeState, b: NodeState): boolean => {
    if (a.serviceTasks !== b.serviceTasks) return a.serviceTasks < b.serviceTasks;
    if (a.activeTasks !== b.activeTasks) return a.activeTasks < b.activeTasks;
    return a.id < b.id;
  };
  const build = (
    nodes: readonly NodeState[],
    level: number,
    key: string,
    parent: Branch | undefined,
  ): Branch => {
    const branch: Branch = { key, parent, serviceTasks: 0, children: [], heap: undefined, exhausted: false };
    for (const ns of nodes) branch.serviceTasks += ns.serviceTasks;
    const attr = spreadBy[level];
    if (attr === undefined) {
      branch.heap = MinHeap.from(nodes, less);
      for (const ns of nodes) ns.leaf = branch;
      branch.exhausted = nodes.length === 0;
      return branch;
    }
    const groups = new Map<string, NodeState[]>();
    for (const ns of nodes) {
      // '\0' cannot be a label value: it marks "attribute missing" as its own branch.
      const v = nodeValue(ns.node, attr) ?? '\0';
      const g = groups.get(v);
      if (g) g.push(ns);
      else groups.set(v, [ns]);
    }
    for (const v of [...groups.keys()].sort()) {
      branch.children.push(build(groups.get(v)!, level + 1, v, branch));
    }
    branch.exhausted = branch.children.length === 0;
    return branch;
  };
  return build(candidates, 0, '', undefined);
}

/** The node the next task should go to, or undefined when no candidate can take it. */
export function pickNode(root: Branch, fits: (ns: NodeState) => boolean): NodeState | undefined {
  for (;;) {
    if (root.exhausted) return undefined;
    let branch = root;
    while (!branch.heap) {
      let best: Branch | undefined;
      for (const c of branch.children) {
        if (c.exhausted) continue;
        if (!best || c.serviceTasks < best.serviceTasks) best = c;
      }
      if (!best) {
        markExhausted(branch);
        break;
      }
      branch = best;
    }
    if (!branch.heap) continue;
    let top = branch.heap.peek();
    while (top && !fits(top)) {
      branch.heap.pop();
      top = branch.heap.peek();
    }
    if (top) return top;
    markExhausted(branch);
  }
}

function markExhausted(branch: Branch): void {
  branch.exhausted = true;
  const p = branch.parent;
  if (p?.children.every((c) => c.exhausted)) markExhausted(p);
}

/** Records a placement on `ns`: re-sorts it in its leaf and counts it up the tree. */
export function recordPlacement(leaf: Branch, ns: NodeState): void {
  // The placed node is the heap's top: pop it and push it back with its new counts.
  leaf.heap!.pop();
  leaf.heap!.push(ns);
  for (let b: Branch | undefined = leaf; b; b = b.parent) b.serviceTasks++;
}
