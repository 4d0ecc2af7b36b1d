// The node's health for a load balancer or systemd (`GET /skiff/health`, `skiff system
// health`): 200 when every part that this node runs works, 503 otherwise, and a JSON
// body saying which part fails. A manager checks raft (a leader is known), its store (the
// cluster is there) and its node as the cluster sees it; every node checks its agent and
// the OCI runtime (`crun list` answers).
import type { NodeAgent } from '../agent/index.js';
import type { Replicator, Store } from '../manager/index.js';

export interface HealthCheck {
  ok: boolean;
  message?: string;
}

export interface HealthReport {
  healthy: boolean;
  nodeId: string;
  checks: Record<string, HealthCheck>;
}

const RUNTIME_CHECK_MS = 5000;

export async function nodeHealth(parts: {
  nodeId: string;
  manager?: { store: Store; replicator: Replicator };
  agent: NodeAgent | undefined;
}): Promise<HealthReport> {
  const checks: Record<string, HealthCheck> = {};
  const m = parts.manager;
  if (m) {
    const leader = m.replicator.leaderId();
    checks.raft = leader
      ? { ok: true, message: leader === parts.nodeId ? 'leader' : `following ${leader}` }
      : { ok: false, message: 'no raft leader is known: a majority of managers may be unreachable' };
    checks.store = m.store.getCluster()
      ? { ok: true, message: `applied index ${m.store.appliedIndex}` }
      : { ok: false, message: 'the cluster object is missing from the store' };
    const state = m.store.getNode(parts.nodeId)?.Status.State;
    checks.agent =
      parts.agent && state === 'ready'
        ? { ok: true }
        : {
            ok: false,
            message: parts.agent ? `the cluster sees this node as ${state ?? 'unknown'}` : 'no agent runs',
          };
  } else {
    checks.agent = parts.agent ? { ok: true } : { ok: false, message: 'no agent runs' };
  }
  checks.runtime = parts.agent
    ? await withTimeout(parts.agent.runtime.check(), RUNTIME_CHECK_MS).then(
        (): HealthCheck => ({ ok: true }),
        (e: unknown): HealthCheck => ({ ok: false, message: e instanceof Error ? e.message : String(e) }),
      )
    : { ok: false, message: 'no agent runs' };
  return { healthy: Object.values(checks).every((c) => c.ok), nodeId: parts.nodeId, checks };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the OCI runtime did not answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
