// The worker's ports bound to the real container stack: image, rootfs, runtime, and the
// network (with the dispatcher's network views).
export { NetworkViews, type NetworkViewTarget, networkPort, networksOfTask } from './network.js';
export { type RoutingMeshTarget, RoutingMeshViews } from './routing-mesh.js';
export { imagePort, rootfsPort, runtimePort } from './stack.js';
