// Keeps this manager's key file in the form the cluster asks for: locked with the
// cluster's unlock key while autolock is on, in clear (0600) when it is off.
import type { Logger } from '../../lib/index.js';
import {
  lockSecretsKey,
  type Store,
  sealedUnlockKey,
  UNLOCK_KEY_FIELD,
  unlockSecretsKeyFile,
} from '../store/index.js';

export interface AutolockFollower {
  /** Resolves once the key file matches the last cluster change seen. */
  settled(): Promise<void>;
  stop(): void;
}

export function followAutolock(
  store: Store,
  stateDir: string,
  key: Uint8Array,
  lockedWith: string | undefined,
  log: Logger,
): AutolockFollower {
  let current = lockedWith;
  let chain = Promise.resolve();
  const apply = () => {
    chain = chain
      .then(async () => {
        const cluster = store.getCluster();
        const sealed = sealedUnlockKey(cluster);
        if (cluster?.Spec.EncryptionConfig?.AutoLockManagers && sealed) {
          const unlockKey = Buffer.from(store.open(sealed, UNLOCK_KEY_FIELD)).toString();
          if (unlockKey === current) return;
          await lockSecretsKey(stateDir, key, unlockKey);
          current = unlockKey;
          log.info('autolock: the secrets key is now locked with the cluster unlock key');
        } else if (current !== undefined) {
          await unlockSecretsKeyFile(stateDir, key);
          current = undefined;
          log.info('autolock off: the secrets key is stored unlocked');
        }
      })
      .catch((err: unknown) => log.error({ err: String(err) }, 'autolock: could not update the key file'));
  };
  const unsubscribe = store.subscribe(apply, { tables: ['cluster'] });
  apply();
  return { settled: () => chain, stop: unsubscribe };
}
