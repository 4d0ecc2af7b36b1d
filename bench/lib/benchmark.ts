// What a benchmark is to the harness.
import type { Figure } from './record.js';

/** `tiny` is the smoke-test size: seconds, proving the code path still works. */
export type BenchSize = 'tiny' | 'full';

export interface BenchContext {
  size: BenchSize;
  /** Prints and stores one figure. */
  emit(figure: Figure): void;
  /** Progress for people, on stderr. */
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  /** One line for `--list`. */
  description: string;
  run(ctx: BenchContext): Promise<void>;
}
