// The API's unix socket, for root only.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SkiffError } from '../../lib/index.js';

/** Listens on a unix socket only root can use: a 0700 parent when we create it, the socket 0600. */
export async function listenUnix(app: FastifyInstance, socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  try {
    const st = await lstat(socketPath);
    if (!st.isSocket())
      throw new SkiffError('already_exists', `${socketPath} exists and is not a socket`, {
        hint: 'remove it or choose another socket path',
      });
    await unlink(socketPath); // a stale socket from a previous run
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await app.listen({ path: socketPath });
  await chmod(socketPath, 0o600);
}
