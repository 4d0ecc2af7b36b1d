// The container runtime: OCI bundles from image config + ContainerSpec, run by crun
// (or runc) under conmon, with logs, exec, health checks and adoption after restarts.
export { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, effectiveCapabilities } from './capabilities.js';
export { ContainerRuntime } from './container-runtime.js';
export { hostsFile, resolvConfFile } from './etc-files.js';
export { type HealthPlan, healthPlan } from './health.js';
export { parseLogRecord, parseLogText } from './k8s-log.js';
export { buildOciConfig, type OciConfig, type OciConfigInput, type OciProcess } from './oci-config.js';
export { mergeArgs, mergeEnv, mergeWorkdir } from './process-spec.js';
export { rootfsMountFlags } from './rootfs-flags.js';
export { normalizeSignal } from './signals.js';
export { type ContainerStats, type InterfaceBytes, parseNetDev, readContainerStats } from './stats.js';
export type * from './types.js';
export { parseGroup, parsePasswd, type ResolvedUser, resolveUser } from './user.js';
