// manager/raft: consensus. Self-contained (imports nothing else from skiff) so it can be extracted.
export { applyConfChangeTo, decodeConfChange, encodeConfChange } from './conf.js';
export { RaftCore, type RaftCoreOptions } from './core.js';
export { isRaftError, RaftError, type RaftErrorCode } from './errors.js';
export { seededRandom } from './prng.js';
export type * from './types.js';
