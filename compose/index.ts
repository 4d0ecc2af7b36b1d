// The Compose Specification loader: compose files + environment → one normalized,
// typed project (or every error, with file:line:col), its canonical printout, and its
// conversion to a stack of Docker-API-shaped objects.

export { type CanonicalOptions, serviceNames, toCanonical } from './canonical.js';
export { DEFAULT_FILE_NAMES, loadProject, loadProjectSync } from './loader.js';
export { formatComposeErrors } from './sources.js';
export {
  projectToStack,
  restartPolicy,
  type Stack,
  type StackIO,
  type StackVolume,
} from './stack.js';
export type * from './types.js';
export { type ComposeVariable, extractVariables } from './variables.js';
