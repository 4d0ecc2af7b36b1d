// The CLI's side of the local node: whether it runs, starting it in the background and
// stopping it. The node process itself is the `node/` component (`skiff daemon run`).

export {
  type DaemonStatus,
  daemonStatus,
  ensureLocalDaemon,
  startDaemon,
  stopLocalDaemon,
} from './local-daemon.js';
export { keepLogRotated, type LogRotation } from './log-rotation.js';
