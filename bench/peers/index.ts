// Peer systems measured next to skiff: dockerd (+ swarm), podman's Docker-compatible
// service, a 3-member etcd cluster and the CNCF registry with skopeo. Each installs its
// Debian package on demand, keeps its state in a temporary directory and leaves nothing
// behind when stopped.

export { freePort } from '../../test/lab/index.js';
export { ensurePackage } from './apt.js';
export { type DockerdOptions, type DockerdPeer, startDockerd, sweepDockerdLeftovers } from './dockerd.js';
export { type EtcdCluster, type EtcdOptions, startEtcdCluster, sweepEtcdLeftovers } from './etcd.js';
export { parseSave, type RuleSet, undoScript } from './iptables.js';
export { type PodmanOptions, type PodmanPeer, startPodman, sweepPodmanLeftovers } from './podman.js';
export { type RegistryPeer, startRegistryPeer } from './registry.js';
