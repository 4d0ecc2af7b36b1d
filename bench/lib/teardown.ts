// Process-wide teardown for things a benchmark starts (daemons, iptables changes):
// whatever is still registered runs on SIGINT/SIGTERM/SIGHUP before the process exits,
// so an interrupted run does not leave dockerd or etcd behind.

type Step = { what: string; run: () => Promise<unknown> | unknown };

const pending = new Set<Step>();
let installed = false;
let exiting = false;

async function runAll(): Promise<void> {
  // Last registered first: a peer's iptables restore runs after the peer stopped.
  for (const step of [...pending].reverse()) {
    pending.delete(step);
    try {
      await step.run();
    } catch (e) {
      process.stderr.write(
        `teardown of ${step.what} failed: ${e instanceof Error ? e.message : String(e)}\n`,
      );
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (exiting) return;
      exiting = true;
      process.stderr.write(`\n${signal}: stopping ${pending.size} peer resource(s) before exiting\n`);
      void runAll().finally(() => process.exit(130));
    });
  }
}

/**
 * Registers `run` to happen if the process is interrupted; returns a function that
 * unregisters it (call it once the normal path has cleaned up).
 */
export function onInterrupt(what: string, run: () => Promise<unknown> | unknown): () => void {
  install();
  const step: Step = { what, run };
  pending.add(step);
  return () => {
    pending.delete(step);
  };
}
