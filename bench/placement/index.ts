// The placement benchmark's follower managers, run in worker threads (follower.ts).
export type { FollowerReply } from './follower.js';
export { type FollowerData, startFollowerManager } from './follower-manager.js';
