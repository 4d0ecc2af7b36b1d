// The node's own HTTP routes, served beside the manager's API by the node's agent.
export { importImage, registerImageRoutes, TARBALL_CONTENT_TYPE } from './images.js';
export { pullMessages, pushMessages } from './progress.js';
export { registerVolumeRoutes } from './volumes.js';
export { isNodeLocalPath, type NodeLocalHandler, nodeLocalApi } from './worker-api.js';
