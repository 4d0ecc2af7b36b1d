// Standalone containers (the Engine API's `/containers`), run by the node's own stack
// beside its tasks.
export type { ContainerPath } from './container-path.js';
export {
  ContainerService,
  type ContainerServiceOptions,
  isStandaloneId,
  type NetworkLinkPort,
  parsePs,
} from './container-service.js';
export { type NetworkMode, type StandaloneSpec, standaloneSpec } from './create-spec.js';
