import { arch, release } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Swarm } from '../../../lib/index.js';
import { SkiffError } from '../../../lib/index.js';
import { rotateJoinToken } from '../../ca/index.js';
import {
  DATA_KEY_ROTATION_FIELD,
  dataKeyRotation,
  NETWORK_KEYS_FIELD,
  newUnlockKey,
  openNetworkKeys,
  rotateNetworkKeys,
  UNLOCK_KEY_FIELD,
  withNetworkKeys,
} from '../../store/index.js';
import { API_VERSION, type ApiContext, MIN_API_VERSION } from '../context.js';
import { engineInfo, NO_COUNTS } from '../engine-info.js';
import { EVENT_FILTERS, eventMatches, parseEventTime } from '../events.js';
import { parseFilters } from '../filters.js';
import { parseSwarmSpec } from '../schemas.js';
import { boolParam, queryOf, versionParam } from './params.js';

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };

export function registerSystemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const version = ctx.info.version ?? 'dev';

  const ping = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('Swarm', store.getCluster() ? 'active/manager' : 'inactive');
    reply.header('Builder-Version', '');
    reply.header('Cache-Control', 'no-cache, no-store, must-revalidate');
    reply.header('Pragma', 'no-cache');
    reply.type('text/plain; charset=utf-8');
    return reply.send('OK');
  };
  app.get('/_ping', ping);
  app.head('/_ping', ping);

  app.get('/version', async () => versionInfo(version));

  app.get('/info', async () => {
    const cluster = store.getCluster();
    const nodes = store.listNodes();
    const managers = nodes.filter((n) => n.ManagerStatus);
    return engineInfo({
      nodeId: ctx.info.nodeId,
      hostname: ctx.info.hostname,
      version,
      stateDir: ctx.info.stateDir ?? '',
      // Only what is really applied: the agent says which profiles it loaded.
      security: ctx.info.security?.() ?? { options: [], warnings: [] },
      counts: (await ctx.info.counts?.()) ?? NO_COUNTS,
      eventListeners: ctx.events.listenerCount,
      now: ctx.clock(),
      swarm: {
        NodeID: ctx.info.nodeId,
        NodeAddr: hostOf(ctx.info.addr),
        LocalNodeState: cluster ? 'active' : 'inactive',
        ControlAvailable: cluster !== undefined,
        Error: '',
        RemoteManagers: managers.map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus?.Addr ?? '' })),
        Nodes: nodes.length,
        Managers: managers.length,
        ...(cluster ? { Cluster: clusterInfo(cluster) } : {}),
      },
    });
  });

  app.get('/swarm', async () => {
    const cluster = store.getCluster();
    if (!cluster) throw notInSwarm();
    const {
      [UNLOCK_KEY_FIELD]: _sealed,
      [NETWORK_KEYS_FIELD]: _keys,
      ...shown
    } = cluster as Swarm & { [UNLOCK_KEY_FIELD]?: string; [NETWORK_KEYS_FIELD]?: string };
    return shown;
  });

  app.post('/swarm/update', async (req) => {
    const q = queryOf(req);
    const v = versionParam(q);
    const spec = parseSwarmSpec(req.body);
    const rotateWorker = boolParam(q, 'rotateWorkerToken');
    const rotateManager = boolParam(q, 'rotateManagerToken');
    const rotateUnlock = boolParam(q, 'rotateManagerUnlockKey');
    // skiff's own: every manager re-seals its raft log under a new data key.
    const rotateDataKey = boolParam(q, 'rotateDataKey');
    // skiff's own: the encrypted overlays' key ring turns now instead of at its 12 h mark.
    const rotateNetworkKey = boolParam(q, 'rotateNetworkKey');
    await store.update((tx) => {
      const cur = store.getCluster() as (Swarm & { [UNLOCK_KEY_FIELD]?: string }) | undefined;
      if (!cur) throw notInSwarm();
      const tokens = cur.JoinTokens ?? { Worker: '', Manager: '' };
      const { [UNLOCK_KEY_FIELD]: sealed, ...rest } = cur;
      // Autolock: the unlock key lives sealed in the cluster object, so every manager
      // can lock its own key file with it; it is shown only by /swarm/unlockkey.
      const autolock = spec.EncryptionConfig?.AutoLockManagers === true;
      const unlockKey = autolock
        ? sealed && !rotateUnlock
          ? sealed
          : store.seal(Buffer.from(newUnlockKey()), UNLOCK_KEY_FIELD)
        : undefined;
      const ring = rotateNetworkKey ? openNetworkKeys(store, rest) : undefined;
      if (rotateNetworkKey && !ring)
        throw new SkiffError(
          'failed_precondition',
          'no encrypted overlay network has been created: there is no network key to rotate',
          {
            hint: 'create one with `docker network create -d overlay --opt encrypted NAME`',
          },
        );
      const keyed = ring ? withNetworkKeys(store, rest, rotateNetworkKeys(ring, Date.now())) : rest;
      tx.updateCluster({
        ...keyed,
        Version: { Index: v },
        Spec: spec,
        JoinTokens: {
          Worker: rotateWorker ? rotateJoinToken(tokens.Worker) : tokens.Worker,
          Manager: rotateManager ? rotateJoinToken(tokens.Manager) : tokens.Manager,
        },
        ...(unlockKey ? { [UNLOCK_KEY_FIELD]: unlockKey } : {}),
        ...(rotateDataKey ? { [DATA_KEY_ROTATION_FIELD]: dataKeyRotation(cur) + 1 } : {}),
      } as Swarm);
    });
    return '';
  });

  app.post('/swarm/init', async () => {
    if (store.getCluster()) {
      throw new SkiffError(
        'unavailable',
        'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
      );
    }
    throw new SkiffError(
      'unsupported',
      'swarm init over the API is not supported yet; start the manager with `skiff daemon`',
    );
  });
  // This API is served by a node that is in a cluster already, so Docker's answer applies.
  app.post('/swarm/join', async () => {
    throw new SkiffError(
      'unavailable',
      'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
      { hint: 'a new node joins with `skiff cluster join --token TOKEN MANAGER:2377`' },
    );
  });
  app.post('/swarm/leave', async (req) => {
    if (!ctx.leave) {
      throw new SkiffError('unsupported', 'this manager cannot leave its cluster over the API', {
        hint: 'a single-node skiff is stopped with `skiff daemon stop`',
      });
    }
    await ctx.leave({ force: boolParam(queryOf(req), 'force') });
    return '';
  });
  app.get('/swarm/unlockkey', async () => {
    const sealed = (store.getCluster() as (Swarm & { [UNLOCK_KEY_FIELD]?: string }) | undefined)?.[
      UNLOCK_KEY_FIELD
    ];
    if (!sealed)
      throw new SkiffError('not_found', 'no unlock key is set', {
        hint: 'turn on autolock with `docker swarm update --autolock=true`',
      });
    return { UnlockKey: Buffer.from(store.open(sealed, UNLOCK_KEY_FIELD)).toString() };
  });
  app.post('/swarm/unlock', async () => {
    throw new SkiffError('invalid_argument', 'swarm is not locked');
  });

  // The docker CLI asks the daemon for an image's digest before creating a service;
  // the manager does not talk to registries, so the CLI proceeds with the tag.
  app.get('/distribution/*', async () => {
    throw new SkiffError(
      'unsupported',
      'the skiff manager does not resolve image digests; the image is used by tag',
    );
  });

  // Event streams never end on their own: closing the server ends them.
  const openStreams = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const finish of [...openStreams]) finish();
  });
  app.get('/events', async (req, reply) => {
    const q = queryOf(req);
    const filters = parseFilters(q.filters, EVENT_FILTERS);
    const since = parseEventTime(q.since);
    const until = parseEventTime(q.until);
    if (Number.isNaN(since) || Number.isNaN(until)) {
      throw new SkiffError(
        'invalid_argument',
        'since and until must be unix timestamps in seconds (e.g. 1700000000 or 1700000000.5)',
      );
    }
    const nowNano = ctx.clock().getTime() * 1e6;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Api-Version': API_VERSION,
      'Cache-Control': 'no-cache',
    });
    let timer: NodeJS.Timeout | undefined;
    let stop = () => {};
    const finish = () => {
      stop();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    let dropped = false;
    const write = (e: import('../events.js').DockerEvent) => {
      if (dropped || (until !== undefined && e.timeNano > until) || !eventMatches(e, filters)) return;
      // A client that does not read is dropped rather than buffered for without end.
      if (res.writableLength > ctx.events.maxBufferedBytes) {
        dropped = true;
        ctx.log.warn(
          { remote: req.ip, buffered: res.writableLength },
          'dropping an /events client that stopped reading',
        );
        finish();
        res.destroy();
        return;
      }
      res.write(`${JSON.stringify(e)}\n`);
    };
    if (since !== undefined) for (const e of ctx.events.since(since)) write(e);
    if (dropped) return;
    if (until !== undefined && until <= nowNano) {
      if (!res.writableEnded) res.end();
      return;
    }
    stop = ctx.events.listen(write);
    if (until !== undefined) timer = setTimeout(finish, Math.ceil((until - nowNano) / 1e6));
    res.flushHeaders();
    req.raw.on('close', finish);
    openStreams.add(finish);
    res.on('close', () => openStreams.delete(finish));
  });
}

function notInSwarm(): SkiffError {
  return new SkiffError('unavailable', 'This node is not a swarm manager.');
}

function hostOf(addr: string | undefined): string {
  if (!addr) return '';
  const i = addr.lastIndexOf(':');
  return i > 0 ? addr.slice(0, i) : addr;
}

function clusterInfo(c: Swarm) {
  return {
    ID: c.ID,
    Version: c.Version,
    CreatedAt: c.CreatedAt,
    UpdatedAt: c.UpdatedAt,
    Spec: c.Spec,
    TLSInfo: c.TLSInfo ?? { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: c.RootRotationInProgress ?? false,
    DataPathPort: c.DataPathPort ?? 4789,
    DefaultAddrPool: c.DefaultAddrPool ?? ['10.0.0.0/8'],
    SubnetSize: c.SubnetSize ?? 24,
  };
}

/** The /version body: skiff's version and the API versions it speaks. */
export function versionInfo(version: string) {
  const details = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: GO_ARCH[arch()] ?? arch(),
    KernelVersion: release(),
  };
  return {
    Platform: { Name: 'skiff' },
    Components: [{ Name: 'Engine', Version: version, Details: details }],
    Version: version,
    ...details,
    BuildTime: '',
  };
}
