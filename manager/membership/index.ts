// A manager's membership of the raft group: joining it, membership changes made one at
// a time, waiting for leadership, and leaving.

export { raftMembership, retryConfChange } from './conf-change.js';
export { joinAsManager } from './join.js';
export { waitForLeader } from './leadership.js';
export { leaveRaft } from './leave.js';
