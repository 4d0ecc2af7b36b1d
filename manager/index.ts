// The manager's public surface: what the daemon assembles and other components use.

export * from './api/index.js';
export * from './ca/index.js';
export * from './store/index.js';
