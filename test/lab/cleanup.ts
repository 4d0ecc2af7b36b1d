// A stack of cleanup steps: tests push what they create and run the stack in
// afterEach/finally, so resources go away in reverse order even when a step fails.

export type CleanupStep = () => unknown | Promise<unknown>;

export class Cleanup {
  readonly #steps: Array<{ what: string; step: CleanupStep }> = [];

  /** Registers a step; `what` names it in the error if it fails. */
  add(step: CleanupStep, what = 'cleanup step'): void {
    this.#steps.push({ what, step });
  }

  /** Registers `value.remove`/`stop`/`destroy`-style teardown and returns the value. */
  track<T>(value: T, teardown: (value: T) => unknown | Promise<unknown>, what?: string): T {
    this.add(() => teardown(value), what);
    return value;
  }

  /** Runs every step, last added first; throws one error listing all that failed. */
  async run(): Promise<void> {
    const failures: string[] = [];
    const errors: unknown[] = [];
    for (let entry = this.#steps.pop(); entry; entry = this.#steps.pop()) {
      try {
        await entry.step();
      } catch (e) {
        errors.push(e);
        failures.push(`${entry.what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `cleanup failed: ${failures.join('; ')}`);
  }
}

/** Runs `body` with a fresh Cleanup and always runs the cleanup afterwards. */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
  }
}
