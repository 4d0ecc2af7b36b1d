// `skiff node promote|demote|update` against a node whose status moves while it runs: a
// node's version goes up with its status (a role switch under way, a heartbeat's state),
// and the CLI failed with "update out of sequence" (a lab test met it right after a
// demotion). A conflict while the spec is unchanged is read again and retried; a spec
// someone else changed is still a conflict.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/program.js';

let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fake manager: its node n1's version moves by 2 at each read until `settlesAfter` reads. */
async function fakeManager(o: { settlesAfter: number; specChangesTo?: string }) {
  dir = await mkdtemp(join(tmpdir(), 'skiff-node-race-'));
  const socket = join(dir, 'api.sock');
  let version = 100;
  let reads = 0;
  let role = 'worker';
  const updates: string[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname.endsWith('/nodes/n1')) {
        reads++;
        if (reads > 1 && o.specChangesTo) role = o.specChangesTo;
        res.end(
          JSON.stringify({
            ID: 'n1',
            Version: { Index: version },
            Spec: { Role: role, Availability: 'active' },
          }),
        );
        return;
      }
      if (req.method === 'POST' && url.pathname.endsWith('/nodes/n1/update')) {
        const based = Number(url.searchParams.get('version'));
        updates.push(`${based} ${body}`);
        if (reads < o.settlesAfter) {
          version += 2; // the status moved meanwhile
          res.statusCode = 409;
          res.end(
            JSON.stringify({
              message: `update out of sequence: node n1 is at version ${version}, the update was based on version ${based}`,
            }),
          );
          return;
        }
        res.end('');
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `no route ${req.method} ${url.pathname}` }));
    });
  });
  await new Promise<void>((r) => server!.listen(socket, r));
  return { host: `unix://${socket}`, updates };
}

describe('skiff node promote while the node status moves', () => {
  it('reads the node again and succeeds when only its status changed', async () => {
    const m = await fakeManager({ settlesAfter: 3 });
    const code = await runCli(['-H', m.host, 'node', 'promote', 'n1']);
    expect(code).toBe(0);
    expect(m.updates.length).toBeGreaterThan(1);
    expect(m.updates.at(-1)).toMatch(/^10[2-9] .*"Role":"manager"/);
  });

  it('still fails when someone else changed the spec meanwhile', async () => {
    const m = await fakeManager({ settlesAfter: 99, specChangesTo: 'manager' });
    const code = await runCli(['-H', m.host, 'node', 'demote', 'n1']);
    expect(code).not.toBe(0);
    expect(m.updates).toHaveLength(1);
  });
});
