// agent/snapshot: unpacks image layers (hardened, OCI whiteouts → overlay whiteouts) into
// one directory per chain ID and mounts container root filesystems with overlayfs.
export { type ExtractOptions, type ExtractStats, extractLayer } from './extract.js';
export {
  ancestors,
  checkSymlinkTarget,
  classifyWhiteout,
  cleanEntryPath,
  cleanHardlinkTarget,
  type WhiteoutKind,
} from './layer-paths.js';
export {
  type BlobSource,
  type ContainerSnapshot,
  isMountPoint,
  Snapshotter,
  type SnapshotterOptions,
} from './snapshotter.js';
export {
  decodeHeader,
  parsePax,
  readTar,
  type TarEntry,
  type TarEntryType,
  type TarHandler,
} from './tar-reader.js';
