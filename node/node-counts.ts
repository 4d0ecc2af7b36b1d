// The node's containers and images as Docker's `/info` counts them, from its agent: the
// same on a manager's API and a worker's socket.
import type { NodeAgent } from '../agent/index.js';
import type { NodeCounts } from '../manager/index.js';

/** Undefined while the agent is not there yet. */
export async function nodeCounts(agent: NodeAgent | undefined): Promise<NodeCounts | undefined> {
  if (!agent) return undefined;
  const containers = await agent.runtime.list();
  const running = containers.filter((c) => c.state === 'running').length;
  return {
    containers: containers.length,
    running,
    paused: 0,
    stopped: containers.length - running,
    images: (await agent.images.refresh()).length,
  };
}
