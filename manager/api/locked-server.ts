import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../../lib/index.js';
import type { ApiInfo } from './context.js';
import { versionInfo } from './routes/system.js';
import { parseBody } from './schemas.js';
import { createBaseServer, ERROR_CONTENT_TYPE, errorBody } from './server.js';

const LOCKED_MESSAGE =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

/**
 * The API of a manager whose key is locked (autolock): it answers ping, version and
 * info (LocalNodeState "locked") and takes the unlock key; everything else is 503.
 */
export function createLockedApiServer(o: {
  info: ApiInfo;
  log: Logger;
  unlock(key: string): Promise<void>;
}): FastifyInstance {
  const app = createBaseServer({ log: o.log, version: o.info.version });
  app.get('/_ping', async (_req, reply) => {
    reply.header('Swarm', 'locked');
    reply.type('text/plain; charset=utf-8');
    return reply.send('OK');
  });
  app.get('/version', async () => versionInfo(o.info.version ?? 'dev'));
  app.get('/info', async () => ({
    ID: o.info.nodeId,
    Name: o.info.hostname || hostname(),
    ServerVersion: o.info.version ?? 'dev',
    OSType: 'linux',
    OperatingSystem: 'skiff',
    Swarm: {
      NodeID: o.info.nodeId,
      NodeAddr: '',
      LocalNodeState: 'locked',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
      Nodes: 0,
      Managers: 0,
    },
    Warnings: [],
  }));
  app.post('/swarm/unlock', async (req) => {
    const body = parseBody(z.object({ UnlockKey: z.string().min(1).max(200) }), req.body, 'unlock request');
    await o.unlock(body.UnlockKey.trim());
    return '';
  });
  app.all('/*', async (_req, reply) =>
    reply.status(503).header('content-type', ERROR_CONTENT_TYPE).send(errorBody(LOCKED_MESSAGE)),
  );
  return app;
}
