export { AllocationLoop } from './allocation.js';
export { LeaderLoops, type LeaderOptions } from './leader.js';
export { ControlLoop, PASS_SLICE_MS, PROPOSAL_BATCH, updateInBatches, updateWithRetry } from './loop.js';
export { networkView } from './network-view.js';
export { OrchestrationLoop } from './orchestration.js';
export { SchedulingLoop } from './scheduling.js';
