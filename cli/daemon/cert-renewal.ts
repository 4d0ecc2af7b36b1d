// A worker renews its node certificate from the managers once two thirds of its
// lifetime have passed (managers renew their own from the CA they hold). The new
// certificate is saved and used from the next dispatcher session on; a renewed role
// (after a promotion or demotion) comes with it.
import type { Logger } from '../../lib/index.js';
import { describeError } from '../../lib/index.js';
import {
  describeNodeCertificate,
  type NodeIdentity,
  requestRenewal,
  saveIdentity,
} from '../../manager/index.js';

export interface WorkerRenewalOptions {
  stateDir: string;
  nodeId: string;
  /** Updated in place when renewed, so whoever reads it sees the new certificate. */
  identity: NodeIdentity;
  /** API addresses (host:port) of the managers, tried in turn. */
  managers: () => string[];
  log: Logger;
  /** How often to look at the certificate's age (default hourly; also once at start). */
  checkIntervalMs?: number;
}

/** Whether two thirds of the certificate's lifetime have passed. */
export function renewalDue(certPem: string, now = Date.now()): boolean {
  const info = describeNodeCertificate(certPem);
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  return now >= info.notBefore.getTime() + (lifetime * 2) / 3;
}

/** Starts checking; returns the function that stops it. */
export function keepWorkerCertificateFresh(o: WorkerRenewalOptions): () => void {
  let busy = false;
  const check = async () => {
    if (busy || !renewalDue(o.identity.certPem)) return;
    busy = true;
    try {
      for (const addr of o.managers()) {
        try {
          const renewed = await requestRenewal(addr, o.identity, o.nodeId);
          Object.assign(o.identity, renewed);
          await saveIdentity(o.stateDir, o.identity);
          o.log.info(
            { nodeId: o.nodeId, manager: addr, notAfter: describeNodeCertificate(renewed.certPem).notAfter },
            'node certificate renewed',
          );
          return;
        } catch (e) {
          o.log.warn(
            { nodeId: o.nodeId, manager: addr, err: describeError(e) },
            'certificate renewal failed here',
          );
        }
      }
    } finally {
      busy = false;
    }
  };
  const run = () => void check();
  const timer = setInterval(run, o.checkIntervalMs ?? 3_600_000);
  timer.unref();
  run();
  return () => clearInterval(timer);
}
