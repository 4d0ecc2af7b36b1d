import type { FastifyInstance } from 'fastify';
import type { Node } from '../../../lib/index.js';
import { SkiffError } from '../../../lib/index.js';
import type { ApiContext } from '../context.js';
import { anyOf, labelsMatch, parseFilters } from '../filters.js';
import { presentNode } from '../present.js';
import { parseNodeSpec } from '../schemas.js';
import { boolParam, paramOf, queryOf, versionParam } from './params.js';

const NODE_FILTERS = ['id', 'label', 'membership', 'name', 'node.label', 'role'];

export function registerNodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const find = (idOrName: string): Node => {
    const n = store.getNode(idOrName);
    if (!n) throw new SkiffError('not_found', `node ${idOrName} not found`);
    return n;
  };

  app.get('/nodes', async (req) => {
    const f = parseFilters(queryOf(req).filters, NODE_FILTERS);
    return store
      .listNodes(
        (n) =>
          anyOf(f, 'id', (v) => n.ID.startsWith(v)) &&
          anyOf(f, 'name', (v) => (n.Spec.Name || n.Description?.Hostname) === v) &&
          anyOf(f, 'role', (v) => (n.Spec.Role ?? 'worker') === v) &&
          anyOf(f, 'membership', (v) => v === 'accepted') &&
          labelsMatch(f, 'label', n.Description?.Engine?.Labels) &&
          labelsMatch(f, 'node.label', n.Spec.Labels),
      )
      .map((n) => presentNode(n, ctx.replicator));
  });

  app.get('/nodes/:id', async (req) => presentNode(find(paramOf(req, 'id')), ctx.replicator));

  app.post('/nodes/:id/update', async (req) => {
    const version = versionParam(queryOf(req));
    const spec = parseNodeSpec(req.body);
    const cur = find(paramOf(req, 'id'));
    if (
      cur.Spec.Role === 'manager' &&
      spec.Role === 'worker' &&
      store.listNodes((n) => n.Spec.Role === 'manager').length <= 1
    ) {
      throw new SkiffError('invalid_argument', 'attempting to demote the last manager of the swarm', {
        hint: 'promote another node to manager first',
      });
    }
    const demote = cur.Spec.Role === 'manager' && spec.Role === 'worker';
    // Promotion only records the role: the node's daemon sees it, renews its certificate
    // as a manager and joins raft through /skiff/promote.
    if (demote && cur.ID === ctx.info.nodeId) {
      throw new SkiffError('invalid_argument', 'this manager cannot demote itself', {
        hint: 'run the demotion through another manager',
      });
    }
    const { ManagerStatus: _gone, ...rest } = cur;
    await store.update((tx) =>
      tx.updateNode({ ...(demote ? rest : cur), Version: { Index: version }, Spec: spec }),
    );
    // Out of the raft group too, so quorum is counted over the managers that remain.
    if (demote) await ctx.raft?.removeMember(cur.ID);
    return '';
  });

  app.delete('/nodes/:id', async (req) => {
    const force = boolParam(queryOf(req), 'force');
    const cur = find(paramOf(req, 'id'));
    if (cur.ID === ctx.info.nodeId)
      throw new SkiffError('invalid_argument', 'a manager cannot remove itself; leave the cluster instead');
    if (!force && cur.Status.State !== 'down') {
      throw new SkiffError('invalid_argument', `node ${cur.ID} is not down and can't be removed`, {
        hint: 'stop the node first, or pass --force',
      });
    }
    if (cur.ManagerStatus && !force) {
      throw new SkiffError(
        'invalid_argument',
        `node ${cur.ID} is a cluster manager; demote it before removing it`,
      );
    }
    await store.update((tx) => tx.deleteNode(cur.ID));
    if (cur.ManagerStatus) await ctx.raft?.removeMember(cur.ID);
    return '';
  });
}
