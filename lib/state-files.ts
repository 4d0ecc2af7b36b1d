// Names in a node's state directory that more than one component reads or removes
// (the manager writes them; `cluster leave` and demotion forget them).

/** The manager's raft data keys, wrapped (`manager/raft-data-key.ts`). */
export const RAFT_DEK_FILE = 'raft-dek.json';
