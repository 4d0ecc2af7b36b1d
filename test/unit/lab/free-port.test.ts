import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../lab/index.js';

const ephemeralLow = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);

describe('freePort', () => {
  it('hands out ports below the ephemeral range, so no outgoing connection takes one before its listener binds', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) expect(p).toBeLessThan(ephemeralLow);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('hands out a port a listener can bind on every address', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '0.0.0.0', () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
