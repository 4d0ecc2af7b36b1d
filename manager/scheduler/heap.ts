// A binary min-heap: the scheduler keeps candidate nodes in one so that picking the
// least-loaded node costs O(log n) instead of a scan per task.

export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  /** Builds a heap of `items` in O(n) (cheaper than n pushes when a pass starts). */
  static from<T>(items: readonly T[], less: (a: T, b: T) => boolean): MinHeap<T> {
    const h = new MinHeap(less);
    h.items.push(...items);
    for (let i = (h.items.length >> 1) - 1; i >= 0; i--) h.siftDown(i);
    return h;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < n && this.less(items[l]!, items[min]!)) min = l;
      if (r < n && this.less(items[r]!, items[min]!)) min = r;
      if (min === i) return;
      [items[i], items[min]] = [items[min]!, items[i]!];
      i = min;
    }
  }
}
