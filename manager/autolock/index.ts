// Autolock (`docker swarm update --autolock`): a manager's secrets key kept locked with
// the cluster's unlock key, and a locked manager waiting for it after a restart.

export { type AutolockFollower, type AutolockHooks, followAutolock } from './follow-autolock.js';
export { type Unlocked, waitForUnlock } from './wait-for-unlock.js';
