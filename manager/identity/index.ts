// A manager's identity files in its state directory: the node ID, its certificates and
// raft certificates (made on the first start of a cluster), and what a join brought.

export { type AcceptedJoin, type JoinedManager, saveManagerJoin } from './joined-manager.js';
export {
  issueRaftIdentity,
  loadOrCreateManagerIdentity,
  loadOrCreateRaftIdentity,
} from './manager-identity.js';
export { loadOrCreateNodeId, NODE_ID_FILE, saveNodeId } from './node-id.js';
