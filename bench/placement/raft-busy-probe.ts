// Diagnostic (not a registered benchmark): raft replication throughput of 3 RaftNodes on
// loopback in one process while the event loop is kept busy N ms per turn, as the leader
// loops keep it busy during the placement benchmark. Shows that commits stall when the
// process is busy: the stalls the placement benchmark sees with a flat raft index.
// Cause: HTTP/2 flow control. Appends flow client → server, and the server's 64 KiB receive
// window was reopened only between event-loop turns. With the window widened to 16 MiB
// (transport/grpc.ts raiseReceiveWindow): idle 832 → 414 ms, 5 ms/turn 9.6 s → 1.1 s,
// 20 ms/turn 46 s → 1.05 s; with frames sized up front as well: idle 341 ms, 5 ms/turn 408 ms.
//
//   npx tsx bench/placement/raft-busy-probe.ts 0     # idle loop
//   npx tsx bench/placement/raft-busy-probe.ts 5     # busy 5 ms per turn
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '../../manager/raft/index.js';
import { freePort, waitFor } from '../../test/lab/index.js';

const busyMs = Number(process.argv[2] ?? 0);
const dir = await mkdtemp(join(tmpdir(), 'skiff-raft-probe-'));
const ids = ['a', 'b', 'c'];
const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
const stateMachine = () => ({ apply() {}, snapshot: () => new Uint8Array(), restore() {} });
const nodes = await Promise.all(
  ids.map((id, i) =>
    RaftNode.start({
      id,
      dataDir: join(dir, id),
      peers,
      stateMachine: stateMachine(),
      electionTicks: i === 0 ? 10 : 100,
    }),
  ),
);
try {
  await waitFor(() => nodes[0]!.status().role === 'leader', {
    what: 'n1 to lead',
    timeoutMs: 30_000,
    intervalMs: 20,
  });
  let stop = false;
  const busy = async () => {
    while (!stop) {
      const t = Date.now();
      while (Date.now() - t < busyMs) {
        // the work a leader loop pass does synchronously
      }
      await new Promise((r) => setImmediate(r));
    }
  };
  if (busyMs > 0) void busy();
  const data = new Uint8Array(512 * 1024).fill(65);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 60 }, () => nodes[0]!.propose(data, { timeoutMs: 120_000 })));
  process.stdout.write(
    `busy ${busyMs} ms per turn: 60 x 0.5 MB committed in ${Math.round(performance.now() - t0)} ms\n`,
  );
  stop = true;
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await rm(dir, { recursive: true, force: true });
}
