// Gives a wrapped script a dockerd to measure next to skiff: at full size the harness
// starts the dockerd peer (busybox loaded as busybox:latest), hands the script its
// DOCKER_HOST, and stops it afterwards. BENCH_DOCKER=0 skips it; tiny runs never start
// it (installing docker.io takes longer than the whole smoke test should).
import type { BenchContext } from '../lib/index.js';
import { type DockerdPeer, startDockerd } from '../peers/index.js';

export async function withOptionalDocker<T>(
  ctx: BenchContext,
  body: (env: NodeJS.ProcessEnv) => Promise<T>,
): Promise<T> {
  if (ctx.size === 'tiny' || process.env.BENCH_DOCKER === '0') return body({});
  let docker: DockerdPeer | undefined;
  try {
    docker = await startDockerd({ log: (m) => ctx.log(m) });
    await docker.loadBusybox(['busybox:latest']);
    ctx.log(`${docker.label} answers on ${docker.host}`);
    return await body({ DOCKER_HOST: docker.host });
  } finally {
    await docker?.stop();
  }
}
