// A raft key-value harness for the real-process tests and the raft benchmark: kv-node.ts
// is one raft node serving a tiny map over HTTP; KvCluster starts and drives N of them.

export { encodePut, type KvPut, KvStateMachine } from './kv.js';
export {
  KvCluster,
  type KvClusterOptions,
  type KvProc,
  type KvStatus,
  type PutResult,
} from './kv-cluster.js';
