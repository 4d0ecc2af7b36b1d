// The placement benchmark's follower managers, run in worker threads (follower.ts), and
// the FAKE agents it and the backup benchmark register with the dispatcher.
export { FakeAgent } from './fake-agent.js';
export type { FollowerReply } from './follower.js';
export {
  collectGarbage,
  type FollowerData,
  type FollowerManager,
  type RestartFigures,
  restartFromSnapshot,
  startFollowerManager,
  threadCpuMs,
} from './follower-manager.js';
