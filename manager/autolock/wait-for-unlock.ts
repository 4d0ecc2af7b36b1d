// A restarted manager whose secrets key is locked serves only the locked API on its
// socket until `docker swarm unlock` brings the right unlock key.
import type { Logger } from '../../lib/index.js';
import { type ApiInfo, createLockedApiServer, listenUnix } from '../api/index.js';
import { unlockSecretsKey } from '../store/index.js';

export interface Unlocked {
  /** The secrets key, unlocked. */
  key: Uint8Array;
  /** The unlock key that opened it. */
  unlockKey: string;
}

export async function waitForUnlock(
  o: { stateDir: string; socketPath: string },
  info: ApiInfo,
  log: Logger,
): Promise<Unlocked> {
  let done!: (v: Unlocked) => void;
  const unlocked = new Promise<Unlocked>((resolve) => {
    done = resolve;
  });
  const app = createLockedApiServer({
    info,
    log,
    unlock: async (unlockKey) => done({ key: await unlockSecretsKey(o.stateDir, unlockKey), unlockKey }),
  });
  await listenUnix(app, o.socketPath);
  log.warn({ socket: o.socketPath }, 'this manager is locked: run `docker swarm unlock` with the unlock key');
  try {
    return await unlocked;
  } finally {
    await app.close();
  }
}
