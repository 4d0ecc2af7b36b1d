// Several async streams read as one, each item in the order it arrives (task logs from
// many containers, or from many nodes). A slow reader makes the sources wait once
// `maxQueued` items are waiting, so a chatty container cannot grow the queue without
// bound. A source that fails just ends: callers that must say why wrap it first.

export async function* interleave<T>(
  sources: readonly AsyncIterable<T>[],
  signal: AbortSignal,
  maxQueued = 1024,
): AsyncIterable<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let paused: (() => void)[] = [];
  const resume = () => {
    const p = paused;
    paused = [];
    for (const r of p) r();
  };
  let open = sources.length;
  const onAbort = () => {
    wake?.();
    resume();
  };
  signal.addEventListener('abort', onAbort);
  for (const s of sources) {
    void (async () => {
      try {
        for await (const item of s) {
          queue.push(item);
          wake?.();
          if (signal.aborted) break;
          while (queue.length >= maxQueued && !signal.aborted) {
            await new Promise<void>((r) => paused.push(r));
          }
        }
      } catch {
        // Ends this source only (see above).
      } finally {
        open--;
        wake?.();
      }
    })();
  }
  try {
    while (open > 0 || queue.length > 0) {
      const next = queue.shift();
      if (next !== undefined) {
        if (queue.length < maxQueued) resume();
        yield next;
        continue;
      }
      resume();
      if (signal.aborted) return;
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    resume();
  }
}
