// Volumes and mounts for containers: named local volumes, bind mounts, tmpfs, and
// secrets/configs as files.
export {
  type ContainerMountsRequest,
  prepareContainerMounts,
  releaseContainerMounts,
} from './container-mounts.js';
export { isMountPoint } from './mount-points.js';
export { fileTarget, mountToOci } from './mount-spec.js';
export { mkdirInRoot, resolveInRoot } from './root-path.js';
export type { ContainerFile, OciMount } from './types.js';
export { type VolumeInfo, VolumeManager, validateVolumeName } from './volume-manager.js';
