// agent/image, along containerd's lines: the content store (blobs), the images store
// (records), and the operations over them, each in its own module: pull, push, import,
// save and load (archive-*.ts), tags (tag, remove), login, gc. ImageService wires them for the agent and the API.

export type { LoadEvent, LoadedImage } from './archive-load.js';
export {
  type Challenge,
  type Credentials,
  defaultAuthFile,
  lookupCredentials,
  parseChallenges,
  storeCredentials,
} from './auth.js';
export { ContentStore, type IngestSource } from './content-store.js';
export { decompress } from './decompress.js';
export { chainIds, digestHex, sha256, shortId } from './digest.js';
export { findImage, noSuchImage } from './find-image.js';
export type { GcResult } from './gc.js';
export { type ImageLayer, type ImageRecord, ImageRecords } from './image-records.js';
/** The contract name the worker uses; the same class. */
export { ImageService, ImageService as ImageStore, type ImageServiceOptions } from './image-service.js';
export type { ImportOptions } from './import.js';
export {
  checkFreeSpace,
  DEFAULT_PULL_LIMITS,
  formatBytes,
  PULL_LIMIT_SETTINGS,
  type PullLimits,
} from './limits.js';
export { LiveBlob, LiveBlobGone } from './live-blob.js';
export {
  type Compression,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  layerCompression,
  MediaType,
  type OciImageConfig,
  type ParsedManifest,
  type Platform,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
export {
  listenPeers,
  PEER_PATHS,
  type PeerServed,
  PeerSource,
  type PeerTls,
  peerHandler,
  routePeerRequests,
} from './peer.js';
export { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform.js';
export type { PullEvent, PullOptions, PullOutcome, Unpacker } from './pull.js';
export type { PushEvent } from './push.js';
export {
  DEFAULT_REGISTRY,
  familiarReference,
  formatReference,
  type ImageReference,
  normalizeReference,
  parseReference,
  repositoryName,
} from './reference.js';
export type { RegistryOptions } from './registry-client.js';
export type { RemoveResult } from './tags.js';
