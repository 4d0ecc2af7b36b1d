// agent/image: references, the OCI distribution client, the content store and the
// node's image store (pull, tag, remove, import, push, login, gc).
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
export type { ImageLayer, ImageRecord } from './image-records.js';
/** The contract name the worker uses; the same class. */
export {
  findImage,
  ImageService,
  ImageService as ImageStore,
  type ImageServiceOptions,
  type PullEvent,
  type PullOptions,
  type PushEvent,
  type RemoveResult,
  type Unpacker,
} from './image-service.js';
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
export { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform.js';
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
