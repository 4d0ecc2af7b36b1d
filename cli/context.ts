// What every client command needs: the API client for the chosen manager.
import { ApiClient } from './api/client.js';
import { daemonPaths } from './daemon/paths.js';

export interface GlobalOptions {
  host?: string;
}

export function clientFor(opts: GlobalOptions): ApiClient {
  // --host, else SKIFF_HOST, else the local node's socket (which honours SKIFF_RUN_DIR).
  return new ApiClient({ host: opts.host ?? process.env.SKIFF_HOST ?? `unix://${daemonPaths().socket}` });
}

/** Runs `fn` with a client and closes it afterwards. */
export async function withClient<T>(opts: GlobalOptions, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const client = clientFor(opts);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
