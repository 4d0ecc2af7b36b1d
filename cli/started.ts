// The moment a long-running command (`daemon run`) has finished starting. The bundle's
// launcher (launch.ts) writes the code cache then: it should hold what a start compiles, not
// wait for the process to exit, which a node may never do cleanly.
const listeners: (() => void)[] = [];

/** Calls `fn` once the running command says it has started (never for a short command). */
export function onStarted(fn: () => void): void {
  listeners.push(fn);
}

/** Said by a long-running command once it serves. */
export function started(): void {
  for (const fn of listeners.splice(0)) fn();
}
