// The benchmark harness: the record format, the method (warm-up, repeats, median/p95,
// interleaved side-by-side runs with pair-by-pair ratios), the runner that prints
// records and the final table, wrappers for standalone scripts, a concurrent KV load
// generator, and host pictures for leftover checks.
export type { BenchContext, Benchmark, BenchSize } from './benchmark.js';
export { type CommandResult, runChecked, runCommand, waitFor } from './command.js';
export { cpuMs } from './cpu-time.js';
export {
  attributeDiff,
  captureHostState,
  diffHostState,
  formatDiff,
  type HostDiffLine,
  type HostState,
  type HostStateOptions,
} from './host-state.js';
export { type KvPut, type LoadKvOptions, type LoadKvResult, loadKv } from './load-kv.js';
export { residentKiB } from './memory.js';
export {
  type Interleaved,
  interleave,
  interleaveAll,
  latencyFigures,
  type RepeatOptions,
  repeat,
  type Samples,
  sideBySideFigures,
} from './method.js';
export { pingUnix, waitForPing } from './ping.js';
export { waitForQuietCpu } from './quiet.js';
export {
  type BenchRecord,
  type Figure,
  figuresFromOutput,
  type Machine,
  machine,
  toFigure,
} from './record.js';
export { literal } from './regexp.js';
export { type RunOptions, type RunReport, runBenchmarks } from './runner.js';
export { errorLine, REPO_ROOT, runScript, type ScriptBenchmarkOptions, scriptBenchmark } from './script.js';
export { type BenchDaemon, benchDaemon } from './skiff-daemon.js';
export { mean, median, pairedRatio, percentile, round } from './stats.js';
export { type Outcome, renderTable } from './table.js';
export { onInterrupt } from './teardown.js';
