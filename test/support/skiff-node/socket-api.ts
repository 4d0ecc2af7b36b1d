import { request } from 'node:http';
import type { Node, Task } from '../../../lib/index.js';

/**
 * One Engine API call (`/v1.44…`) on a unix socket, without the CLI's start-up in the way
 * of timings: the status and the parsed JSON body. `what` names the server in errors.
 */
export function socketApi(
  socketPath: string,
  what: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 3000,
): Promise<{ status: number; json: unknown }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: `/v1.44${path}`,
        method,
        timeout: timeoutMs,
        headers: data === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${what} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function list<T>(socketPath: string, path: string): Promise<T[]> {
  const r = await socketApi(socketPath, socketPath, 'GET', path, undefined, 30_000);
  if (r.status !== 200)
    throw new Error(`GET ${path} on ${socketPath}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as T[];
}

/**
 * The nodes as the API lists them, for a test that reads the cluster's state (`node ls
 * --format json` prints docker's table rows, not these).
 */
export function socketNodes(socketPath: string): Promise<Node[]> {
  return list(socketPath, '/nodes');
}

/** The tasks of services (names or IDs) as the API lists them. */
export function socketTasks(socketPath: string, services: string[]): Promise<Task[]> {
  return list(socketPath, `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: services }))}`);
}
