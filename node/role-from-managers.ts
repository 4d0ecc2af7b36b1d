// A manager that cannot start from its state directory asks the other managers which
// role the cluster gives it now: demoted while it was down, or killed while it switched
// roles, it was taken out of the raft group, so no leader ever contacts it and as a
// manager it would wait for one on every start.
import type { Logger } from '../lib/index.js';
import { describeNodeCertificate, loadIdentity, requestRenewal } from '../manager/index.js';
import { firstAnswer } from './first-answer.js';
import { becomeWorker } from './leave.js';
import { readManagers } from './manager-state.js';
import type { NextRole } from './supervisor.js';

/**
 * The role the managers (their addresses from managers.json, without `self`) give this
 * node, asked with the certificate in its state directory: a worker's next role, or
 * undefined while it is still a manager.
 */
export async function roleFromManagers(
  stateDir: string,
  self: string,
  log: Logger,
): Promise<NextRole | undefined> {
  const identity = await loadIdentity(stateDir);
  if (!identity) return undefined;
  const { nodeId } = describeNodeCertificate(identity.certPem);
  const managers = (await readManagers(stateDir)).filter((a) => a !== self);
  if (managers.length === 0) {
    log.warn({ nodeId }, 'no other manager address is known: cannot ask for this node role');
    return undefined;
  }
  const now = await firstAnswer(managers, (addr) => requestRenewal(addr, identity, nodeId));
  if (describeNodeCertificate(now.certPem).role !== 'worker') return undefined;
  log.info({ nodeId }, 'demoted while this manager was down: this node continues as a worker');
  return {
    role: 'worker',
    prepareStateDir: () => becomeWorker(stateDir, now, { nodeId, managers }),
  };
}
