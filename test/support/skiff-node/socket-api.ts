import { request } from 'node:http';

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
