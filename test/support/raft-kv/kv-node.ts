// A raft node serving a tiny key-value map over HTTP: the process behind the real-process
// test and the benchmark. Run: node --import tsx test/support/raft-kv/kv-node.ts --id n1
//   --data /tmp/n1 --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --http 127.0.0.1:8001
// HTTP: PUT /kv/<key> (body = value) → {index}; GET /kv/<key> → {value} after a read barrier;
// GET /status. A node that is not the leader answers 421 with {leaderId}.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { isRaftError, RaftNode } from '../../../manager/raft/index.js';
import { encodePut, KvStateMachine } from './kv.js';

const { values: args } = parseArgs({
  options: {
    id: { type: 'string' },
    data: { type: 'string' },
    peers: { type: 'string', default: '' },
    listen: { type: 'string' },
    http: { type: 'string' },
    'snapshot-every': { type: 'string', default: '10000' },
    'catch-up-entries': { type: 'string' },
    'tick-ms': { type: 'string', default: '100' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`kv-node: ${msg}\n`);
  process.exit(2);
}

const id = args.id ?? fail('--id is required');
const dataDir = args.data ?? fail('--data is required');
const httpAddr = args.http ?? fail('--http host:port is required');
const peers = args.peers
  .split(',')
  .filter(Boolean)
  .map((p) => {
    const [pid, addr] = p.split('=');
    if (!pid || !addr) fail(`--peers entry "${p}" is not id=host:port`);
    return { id: pid, addr };
  });

const sm = new KvStateMachine();
const log = (level: string) => (obj: object, msg?: string) => {
  if (level !== 'debug') process.stderr.write(`${JSON.stringify({ level, node: id, msg, ...obj })}\n`);
};
const node = await RaftNode.start({
  id,
  dataDir,
  peers,
  stateMachine: sm,
  tickMs: Number(args['tick-ms']),
  snapshotEvery: Number(args['snapshot-every']),
  ...(args['catch-up-entries'] ? { snapshotCatchUpEntries: Number(args['catch-up-entries']) } : {}),
  ...(args.listen ? { listenAddr: args.listen } : {}),
  logger: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
});
const restoresAtStart = sm.restores;

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): void {
  if (isRaftError(e, 'not_leader') || isRaftError(e, 'transferring')) {
    send(res, 421, { error: e.code, message: e.message, leaderId: e.leaderId ?? '' });
  } else if (isRaftError(e)) {
    send(res, 503, { error: e.code, message: e.message });
  } else {
    send(res, 500, { error: 'internal', message: String(e) });
  }
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/status') {
    send(res, 200, {
      ...node.status(),
      snapshotsFromLeader: sm.restores - restoresAtStart,
      keys: sm.map.size,
    });
    return;
  }
  if (!url.startsWith('/kv/')) {
    send(res, 404, { error: 'not_found', message: `no route ${url}` });
    return;
  }
  const key = decodeURIComponent(url.slice(4));
  if (req.method === 'PUT') {
    body(req)
      .then((value) => node.propose(encodePut({ key, value })))
      .then((r) => send(res, 200, r))
      .catch((e: unknown) => sendError(res, e));
  } else if (req.method === 'GET') {
    node
      .readBarrier()
      .then(() => send(res, 200, { value: sm.map.get(key) ?? null }))
      .catch((e: unknown) => sendError(res, e));
  } else send(res, 405, { error: 'method', message: 'use GET or PUT' });
});
server.keepAliveTimeout = 60_000;
const colon = httpAddr.lastIndexOf(':');
server.listen(Number(httpAddr.slice(colon + 1)), httpAddr.slice(0, colon), () => {
  process.stderr.write(
    `${JSON.stringify({ level: 'info', node: id, msg: 'kv-node ready', http: httpAddr })}\n`,
  );
});

const shutdown = () => {
  server.close();
  node.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
