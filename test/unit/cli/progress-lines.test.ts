// Streamed JSON lines (pull progress, events) as the CLI's API client reads them: a
// character split between two chunks stays whole, and a last line without its newline
// still counts (before, each chunk was decoded alone and the last line was dropped).

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../cli/api/index.js';

let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the API client reading progress lines', () => {
  it('keeps a character split across chunks and the last line without a newline', async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-lines-'));
    const socket = join(dir, 'api.sock');
    const first = Buffer.from(
      '{"status":"Pulling fs layer","id":"ü1"}\n{"status":"Downloading","id":"ü2"}\n{"status":"Done"}',
    );
    // Cut inside the 2-byte 'ü' of the second line.
    const cut = first.indexOf(Buffer.from('ü2')) + 1;
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(first.subarray(0, cut));
      setTimeout(() => res.end(first.subarray(cut)), 20);
    });
    await new Promise<void>((r) => server!.listen(socket, r));
    const client = new ApiClient({ host: `unix://${socket}` });
    const seen: unknown[] = [];
    await client.pullImage('busybox', (m) => seen.push(m));
    await client.close();
    expect(seen).toEqual([
      { status: 'Pulling fs layer', id: 'ü1' },
      { status: 'Downloading', id: 'ü2' },
      { status: 'Done' },
    ]);
  });
});
