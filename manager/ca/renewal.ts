// Node certificate renewal, for managers and workers alike: once two thirds of the
// certificate's lifetime have passed, a new one is obtained, saved, and swapped into the
// identity object in place, so whoever reads it next (the next dispatcher session, the
// next call to another manager) uses it. Where the new certificate comes from differs:
// a manager issues it from the cluster CA it holds, a worker asks the managers (and a
// renewed role, after a promotion or demotion, comes with it).
import type { Logger } from '../../lib/index.js';
import { describeError } from '../../lib/index.js';
import { describeNodeCertificate, issueNodeCertificate, newPrivateKey, publicKeyOf } from './certificates.js';
import { caKeyPair, type NodeIdentity, saveIdentity } from './identity.js';
import { requestRenewal } from './join-client.js';
import type { KeyFileSealer } from './key-files.js';

/** Gets a new certificate (and key) for the identity; undefined when none could be had this time. */
export type RenewCertificate = (
  identity: NodeIdentity,
) => Promise<(Pick<NodeIdentity, 'certPem' | 'keyPem'> & { caPem?: string }) | undefined>;

export interface RenewalOptions {
  stateDir: string;
  nodeId: string;
  /** Updated in place when renewed, so whoever reads it sees the new certificate. */
  identity: NodeIdentity;
  renew: RenewCertificate;
  /** Called after a renewal was saved (a manager swaps its TLS server's context). */
  onRenewed?: (identity: NodeIdentity) => void;
  log: Logger;
  /** Seals the new key on disk while autolock is on (a manager's; see key-files.ts). */
  sealKeys?: () => KeyFileSealer | undefined;
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
export function keepCertificateFresh(o: RenewalOptions): () => void {
  let busy = false;
  const check = async () => {
    if (busy || !renewalDue(o.identity.certPem)) return;
    busy = true;
    try {
      const renewed = await o.renew(o.identity);
      if (!renewed) return;
      Object.assign(o.identity, renewed);
      await saveIdentity(o.stateDir, o.identity, o.sealKeys?.());
      o.onRenewed?.(o.identity);
      o.log.info(
        { nodeId: o.nodeId, notAfter: describeNodeCertificate(o.identity.certPem).notAfter },
        'node certificate renewed',
      );
    } catch (err) {
      o.log.error({ err: describeError(err) }, 'certificate renewal failed');
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

/** A manager's renewal: a certificate of the same lifetime from the cluster CA it holds. */
export function renewFromOwnCa(nodeId: string): RenewCertificate {
  return async (identity) => {
    const ca = caKeyPair(identity);
    if (!ca) return undefined;
    const info = describeNodeCertificate(identity.certPem);
    const keyPem = newPrivateKey();
    const certPem = issueNodeCertificate({
      ca,
      publicKeyPem: publicKeyOf(keyPem),
      nodeId,
      role: 'manager',
      clusterId: info.clusterId,
      validForMs: info.notAfter.getTime() - info.notBefore.getTime(),
    });
    return { certPem, keyPem };
  };
}

/** A worker's renewal: asks the managers (API addresses, host:port) in turn. */
export function renewFromManagers(nodeId: string, managers: () => string[], log: Logger): RenewCertificate {
  return async (identity) => {
    for (const addr of managers()) {
      try {
        return await requestRenewal(addr, identity, nodeId);
      } catch (e) {
        log.warn({ nodeId, manager: addr, err: describeError(e) }, 'certificate renewal failed here');
      }
    }
    return undefined;
  };
}
