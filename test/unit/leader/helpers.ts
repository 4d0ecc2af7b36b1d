import { randomBytes } from 'node:crypto';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

/** A store over the in-process local replicator (no raft), for control-loop tests. */
export function localStore(): Store {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  store.setReplicator(new LocalReplicator(store.state, { id: 'm1' }));
  return store;
}

export async function addNode(store: Store, id: string, labels: Record<string, string> = {}): Promise<void> {
  await store.update((tx) =>
    tx.create('nodes', {
      ID: id,
      Spec: { Role: 'worker', Availability: 'active', Labels: labels },
      Description: {
        Hostname: id,
        Platform: { OS: 'linux', Architecture: 'x86_64' },
        Resources: { NanoCPUs: 2e9, MemoryBytes: 8 * 2 ** 30 },
      },
      Status: { State: 'ready', Addr: `10.9.0.${id.length}` },
    }),
  );
}
