// Keeps this manager's key files in the form the cluster asks for: while autolock is on,
// the store key locked with the cluster's unlock key and the certificate keys sealed with
// a key derived from the store key (so they lock with it); in clear (0600) when it is off.
import type { Logger } from '../../lib/index.js';
import { keyFileSealer, resealCertificateKeys } from '../ca/index.js';
import {
  dataKeyRotation,
  lockSecretsKey,
  type Store,
  sealedUnlockKey,
  UNLOCK_KEY_FIELD,
  unlockSecretsKeyFile,
} from '../store/index.js';

export interface AutolockFollower {
  /** Resolves once the key files match the last cluster change seen. */
  settled(): Promise<void>;
  /** Whether the key files are (being) kept locked: a renewed certificate key is sealed too. */
  locked(): boolean;
  stop(): void;
}

export interface AutolockHooks {
  /**
   * Runs `change` (the store key locked with `unlockKey`, or unlocked when undefined) as
   * part of giving the raft log a new data key locked the same way.
   */
  rekey?: (unlockKey: string | undefined, change: () => Promise<void>) => Promise<void>;
}

export function followAutolock(
  store: Store,
  stateDir: string,
  key: Uint8Array,
  lockedWith: string | undefined,
  log: Logger,
  hooks: AutolockHooks = {},
): AutolockFollower {
  const rekey = hooks.rekey ?? ((_: string | undefined, change: () => Promise<void>) => change());
  let current = lockedWith;
  let wantLocked = lockedWith !== undefined;
  const sealer = keyFileSealer(key);
  let chain = Promise.resolve();
  // A rotation asked for before this start is not repeated: the counter's value now is
  // the baseline.
  let rotation: number | undefined;
  const apply = () => {
    chain = chain
      .then(async () => {
        const cluster = store.getCluster();
        const asked = dataKeyRotation(cluster);
        if (cluster && rotation === undefined) rotation = asked;
        else if (asked !== rotation) {
          rotation = asked;
          // Locked as it is: only the data key changes.
          await rekey(current, async () => {});
          log.info('a new raft data key: the raft log is re-sealed at the next snapshot');
        }
        const sealed = sealedUnlockKey(cluster);
        if (cluster?.Spec.EncryptionConfig?.AutoLockManagers && sealed) {
          wantLocked = true;
          const unlockKey = Buffer.from(store.open(sealed, UNLOCK_KEY_FIELD)).toString();
          // The certificate keys first: sealed with the store key while it is still in
          // clear, then the store key locked; a crash in between leaves them readable.
          await resealCertificateKeys(stateDir, sealer, sealer);
          if (unlockKey === current) return;
          await rekey(unlockKey, () => lockSecretsKey(stateDir, key, unlockKey));
          current = unlockKey;
          log.info(
            'autolock: the store key, the raft data key and the certificate keys are now locked with the cluster unlock key',
          );
        } else if (current !== undefined || wantLocked) {
          wantLocked = false;
          await rekey(undefined, () => unlockSecretsKeyFile(stateDir, key));
          await resealCertificateKeys(stateDir, sealer, undefined);
          current = undefined;
          log.info(
            'autolock off: the store key, the raft data key and the certificate keys are stored unlocked',
          );
        }
      })
      .catch((err: unknown) => log.error({ err: String(err) }, 'autolock: could not update the key files'));
  };
  const unsubscribe = store.subscribe(apply, { tables: ['cluster'] });
  apply();
  return { settled: () => chain, locked: () => wantLocked, stop: unsubscribe };
}
