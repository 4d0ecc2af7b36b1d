// What every client command needs: the API client for the chosen manager.
import { ApiClient } from './api/client.js';

export interface GlobalOptions {
  host?: string;
}

export function clientFor(opts: GlobalOptions): ApiClient {
  return new ApiClient({ host: opts.host });
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
