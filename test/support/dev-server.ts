// A manager process for trying the API by hand and for the multi-manager lab tests:
//   npx tsx test/support/dev-server.ts --dir /tmp/skiff-dev
//   DOCKER_HOST=unix:///tmp/skiff-dev/skiff.sock docker info
// More managers: --api HOST:PORT --raft HOST:PORT [--join HOST:PORT --token SWMTKN-…] [--tick MS]
// Prints `ready <nodeId>` once it serves; SIGTERM/SIGINT stop it.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, describeError } from '../../lib/index.js';
import { Manager } from '../../manager/index.js';

const { values: a } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/skiff-dev' },
    hostname: { type: 'string', default: hostname() },
    api: { type: 'string' },
    raft: { type: 'string' },
    join: { type: 'string' },
    token: { type: 'string' },
    tick: { type: 'string' },
  },
});
const hostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

try {
  const m = await Manager.start({
    stateDir: join(a.dir, 'state'),
    socketPath: join(a.dir, 'skiff.sock'),
    hostname: a.hostname,
    logger: createLogger({ level: process.env.SKIFF_LOG_LEVEL ?? 'info' }),
    ...(a.api ? { tcp: hostPort(a.api), advertiseAddr: a.api } : {}),
    ...(a.raft || a.tick
      ? { raft: { ...(a.raft ? { listenAddr: a.raft } : {}), ...(a.tick ? { tickMs: Number(a.tick) } : {}) } }
      : {}),
    ...(a.join && a.token ? { join: { managerAddr: a.join, token: a.token } } : {}),
  });
  process.stdout.write(`ready ${m.nodeId}\n`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void m.stop().then(() => process.exit(0));
    });
  }
} catch (e) {
  process.stderr.write(`skiff manager: ${describeError(e)}\n`);
  process.exit(1);
}
