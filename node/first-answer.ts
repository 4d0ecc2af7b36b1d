import { SkiffError } from '../lib/index.js';

/** The first answer of `fn` over the managers' addresses, tried in turn. */
export async function firstAnswer<T>(addrs: string[], fn: (addr: string) => Promise<T>): Promise<T> {
  let last: unknown = new SkiffError('unavailable', 'no manager address is known');
  for (const addr of addrs) {
    try {
      return await fn(addr);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
