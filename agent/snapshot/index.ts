// agent/snapshot: unpacks image layers (hardened, OCI whiteouts → overlay whiteouts) into
// one directory per chain ID, prepares writable snapshots over a chain and answers with
// the overlay mounts, which its caller performs (mount.ts).
export { type ExtractOptions, type ExtractStats, extractLayer } from './extract.js';
export {
  ancestors,
  checkSymlinkTarget,
  classifyWhiteout,
  cleanEntryPath,
  cleanHardlinkTarget,
  type WhiteoutKind,
} from './layer-paths.js';
export { isMountPoint, type Mount, mountAll, unmountAll } from './mount.js';
export {
  type BlobSource,
  type ContainerSnapshot,
  Snapshotter,
  type SnapshotterOptions,
  type UnpackLayer,
  type UnpackOptions,
} from './snapshotter.js';
export {
  decodeHeader,
  parsePax,
  readTar,
  type TarEntry,
  type TarEntryType,
  type TarHandler,
} from './tar-reader.js';
