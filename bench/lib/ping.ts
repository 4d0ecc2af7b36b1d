// Readiness of a Docker-API daemon (dockerd or skiff) on a unix socket: GET /_ping.
import { request } from 'node:http';
import { waitFor } from './command.js';

export function pingUnix(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Waits until /_ping answers 200 on the socket; polls every 10 ms so start times stay fine-grained. */
export async function waitForPing(socketPath: string, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => pingUnix(socketPath), { what, timeoutMs, intervalMs: 10 });
}
