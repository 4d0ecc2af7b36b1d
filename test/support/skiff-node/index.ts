// A skiff node of a test's (or benchmark's) own, driven through the real `skiff` command:
// its own state root, run directory, API socket and address pool, so it never touches
// /var/lib/skiff or another test's node. Also what builds and cleans up around one.
export { removeNodeLeftovers } from './leftovers.js';
export { type ServedBlob, servedBlobs } from './served-blobs.js';
export { socketApi, socketNodes, socketTasks } from './socket-api.js';
export { busyboxTarball, importBusybox, type SkiffResult, type TestNode, testNode } from './test-node.js';
