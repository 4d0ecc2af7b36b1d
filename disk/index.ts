// State on the host's disk, shared by every component that keeps some (lib/ does no I/O):
// the one durable replace of a file, and private directories.
export { privateDir, privateDirSync } from './private-dir.js';
export { diskUsage } from './usage.js';
export { replaceFile, syncDir, writeFileDurable, writeFileDurableSync } from './write-durable.js';
