// What a worker serves on its unix socket beside /_ping and /swarm/leave: the node-local
// image, build, volume and container endpoints, this node's container events and the disk's housekeeping, as every Docker engine serves them (the cluster API is the
// managers'). A fastify app the worker's control server hands those requests to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeAgent } from '../../agent/index.js';
import type { Logger } from '../../lib/index.js';
import { createBaseServer } from '../../manager/index.js';
import { registerBuildRoute } from './build.js';
import { registerContainerToolRoutes } from './container-tools.js';
import { registerContainerRoutes } from './containers.js';
import { registerEngineExecRoutes } from './engine-exec.js';
import { registerImageRoutes } from './images.js';
import { registerPullRoute } from './pull.js';
import { registerSystemDiskRoutes } from './system.js';
import { registerVolumeRoutes } from './volumes.js';
import { registerWorkerEventsRoute } from './worker-events.js';

export type NodeLocalHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Paths the node-local API answers; the rest stays the control server's. */
export function isNodeLocalPath(path: string): boolean {
  return /^\/(images|volumes|containers|exec|build)(\/|$)|^\/(auth|events|system\/df|skiff\/system\/prune)$/.test(
    path,
  );
}

export async function nodeLocalApi(
  agentOf: () => NodeAgent | undefined,
  log: Logger,
  version: string | undefined,
  stateDir: string,
): Promise<{ handle: NodeLocalHandler; close(): Promise<void>; eventListeners(): number }> {
  const app = createBaseServer({ log, version });
  registerVolumeRoutes(app, agentOf);
  registerImageRoutes(app, agentOf);
  registerBuildRoute(app, agentOf, log);
  registerContainerRoutes(app, agentOf);
  registerContainerToolRoutes(app, agentOf);
  registerEngineExecRoutes(app, agentOf);
  registerPullRoute(app, { log }, agentOf);
  registerSystemDiskRoutes(app, agentOf, { stateDir }, log);
  const events = registerWorkerEventsRoute(app, agentOf);
  await app.ready();
  return {
    handle: (req, res) => app.routing(req, res),
    close: () => app.close(),
    eventListeners: () => events.listenerCount(),
  };
}
