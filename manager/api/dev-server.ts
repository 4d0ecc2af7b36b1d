// A manager for trying the API by hand:
//   npx tsx manager/api/dev-server.ts /tmp/skiff-dev   → DOCKER_HOST=unix:///tmp/skiff-dev/skiff.sock docker info
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/index.js';
import { startManager } from './start-manager.js';

const dir = process.argv[2] ?? '/tmp/skiff-dev';
const m = await startManager({
  stateDir: join(dir, 'state'),
  socketPath: join(dir, 'skiff.sock'),
  hostname: hostname(),
  logger: createLogger({ level: process.env.SKIFF_LOG_LEVEL ?? 'info' }),
});
process.stdout.write(`DOCKER_HOST=unix://${join(dir, 'skiff.sock')}\n`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void m.stop().then(() => process.exit(0));
  });
}
