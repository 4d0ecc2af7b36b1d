// The node's metrics: one prom-client registry per node process, fed by the manager's
// and the agent's narrow hooks. Gauges are read when a scrape asks (collect callbacks,
// no timers): a container's CPU, memory and network come from its cgroup and network
// namespace at that moment. prom-client loads only with the node (node/start.ts), never
// with a CLI command. The families are documented in docs/metrics.md.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeAgent } from '../../agent/index.js';
import {
  SWARM_NODE_ID_LABEL,
  SWARM_SERVICE_NAME_LABEL,
  SWARM_TASK_ID_LABEL,
  TASK_STATES,
  type Task,
} from '../../lib/index.js';
import type { Manager, ManagerMetricsHooks } from '../../manager/index.js';

type ContainerStats = Awaited<ReturnType<NodeAgent['runtime']['stats']>>[number];

export interface NodeMetricsSources {
  nodeId: () => string;
  /** This node's manager, on a manager. */
  manager?: () => Manager | undefined;
  agent: () => NodeAgent | undefined;
}

/** Exposition format 0.0.4, what Prometheus scrapes. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PULL_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class NodeMetrics {
  readonly registry = new Registry();
  /** What the manager reports as it happens. */
  readonly managerHooks: ManagerMetricsHooks;
  /** What the agent reports after each image pull. */
  readonly onImagePulled: (p: { bytes: number; seconds: number; ok: boolean }) => void;
  /** The containers' figures of the scrape under way, read once for all container families. */
  private scrape: Promise<ContainerStats[]> | undefined;
  private scrapes = 0;

  constructor(private readonly src: NodeMetricsSources) {
    const r = this.registry;
    const self = this;
    const store = () => src.manager?.()?.store;
    const leaderStore = () => {
      const s = store();
      return s?.isLeader() ? s : undefined;
    };

    new Gauge({
      name: 'skiff_tasks',
      help: "This node's tasks by state (its manager's view on a manager, its agent's on a worker).",
      labelNames: ['state'],
      registers: [r],
      collect() {
        this.reset();
        const s = store();
        const states = s
          ? countable(s.listTasks({ nodeId: src.nodeId() }))
          : (src.agent()?.worker.tasks() ?? []).map((t) => t.state ?? 'new');
        setCounts(this, states);
      },
    });
    new Gauge({
      name: 'skiff_cluster_tasks',
      help: "The cluster's tasks by state; only the raft leader reports it.",
      labelNames: ['state'],
      registers: [r],
      collect() {
        this.reset();
        const s = leaderStore();
        if (s) setCounts(this, countable(s.listTasks()));
      },
    });
    new Gauge({
      name: 'skiff_services',
      help: "The cluster's services; only the raft leader reports it.",
      registers: [r],
      collect() {
        this.reset();
        const s = leaderStore();
        if (s) this.set(s.listServices().length);
      },
    });
    new Gauge({
      name: 'skiff_nodes',
      help: "The cluster's nodes by state, availability and role; only the raft leader reports it.",
      labelNames: ['state', 'availability', 'role'],
      registers: [r],
      collect() {
        this.reset();
        const s = leaderStore();
        if (!s) return;
        for (const n of s.listNodes()) {
          this.inc({
            state: n.Status.State,
            availability: n.Spec.Availability ?? 'active',
            role: n.Spec.Role ?? 'worker',
          });
        }
      },
    });
    new Gauge({
      name: 'skiff_store_objects',
      help: "Objects in this manager's copy of the cluster store, by kind.",
      labelNames: ['kind'],
      registers: [r],
      collect() {
        this.reset();
        const s = store();
        if (!s) return;
        this.set({ kind: 'node' }, s.listNodes().length);
        this.set({ kind: 'service' }, s.listServices().length);
        this.set({ kind: 'task' }, s.listTasks().length);
        this.set({ kind: 'network' }, s.listNetworks().length);
        this.set({ kind: 'secret' }, s.listSecrets().length);
        this.set({ kind: 'config' }, s.listConfigs().length);
      },
    });

    // Raft and dispatcher: figures of this manager, read at scrape time.
    const snapshot = () => src.manager?.()?.metricsSnapshot();
    const raftGauge = (name: string, help: string, pick: (s: RaftFigures) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          const s = snapshot();
          if (s) this.set(pick(s.raft));
        },
      });
    raftGauge('skiff_raft_is_leader', '1 when this manager is the raft leader, else 0.', (s) =>
      s.isLeader ? 1 : 0,
    );
    raftGauge('skiff_raft_term', "This manager's raft term.", (s) => s.term);
    raftGauge(
      'skiff_raft_commit_index',
      'The highest log index this manager knows committed.',
      (s) => s.commitIndex,
    );
    raftGauge(
      'skiff_raft_applied_index',
      'The highest log index applied to the store here.',
      (s) => s.appliedIndex,
    );
    raftGauge('skiff_raft_members', 'Members of the raft group (voters and learners).', (s) => s.members);
    new Gauge({
      name: 'skiff_dispatcher_sessions',
      help: 'Agent sessions open on this manager (only the leader dispatches).',
      registers: [r],
      collect() {
        this.reset();
        const s = snapshot();
        if (s) this.set(s.dispatcher.sessions);
      },
    });
    new Counter({
      name: 'skiff_dispatcher_heartbeat_misses_total',
      help: 'Nodes this manager marked down because they missed their heartbeats.',
      registers: [r],
      collect() {
        this.reset();
        const s = snapshot();
        if (s) this.inc(s.dispatcher.heartbeatMisses);
      },
    });
    new Gauge({
      name: 'skiff_dispatcher_assignment_queue_length',
      help: "Assignment changes queued for a node's stream, not yet sent.",
      labelNames: ['node'],
      registers: [r],
      collect() {
        this.reset();
        for (const q of snapshot()?.dispatcher.queued ?? []) this.set({ node: q.nodeId }, q.length);
      },
    });

    const proposal = new Histogram({
      name: 'skiff_raft_proposal_duration_seconds',
      help: 'Store writes from proposal to applied here, by outcome.',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    const apply = new Histogram({
      name: 'skiff_raft_apply_duration_seconds',
      help: 'Time to apply one log entry to the store.',
      buckets: [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [r],
    });
    const leaderChanges = new Counter({
      name: 'skiff_raft_leader_changes_total',
      help: 'Leader changes this manager has seen.',
      registers: [r],
    });
    const api = new Histogram({
      name: 'skiff_api_request_duration_seconds',
      help: 'API requests by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.managerHooks = {
      proposal: (seconds, ok) => proposal.observe({ outcome: ok ? 'ok' : 'error' }, seconds),
      apply: (seconds) => apply.observe(seconds),
      leaderChange: () => leaderChanges.inc(),
      apiRequest: (q) =>
        api.observe({ route: q.route, method: q.method, status: String(q.status) }, q.seconds),
    };

    const pullBytes = new Counter({
      name: 'skiff_image_pull_bytes_total',
      help: 'Bytes of image layers downloaded (layers already on the node excluded).',
      registers: [r],
    });
    const pulls = new Histogram({
      name: 'skiff_image_pull_duration_seconds',
      help: 'Image pulls, by outcome.',
      labelNames: ['outcome'],
      buckets: PULL_BUCKETS,
      registers: [r],
    });
    this.onImagePulled = (p) => {
      pullBytes.inc(p.bytes);
      pulls.observe({ outcome: p.ok ? 'ok' : 'error' }, p.seconds);
    };

    // Per container: one read of every running container's cgroup per scrape.
    const containerLabels = ['service', 'task', 'node'] as const;
    new Counter({
      name: 'skiff_container_cpu_seconds_total',
      help: "CPU time used by the container's processes (cgroup cpuacct.usage).",
      labelNames: containerLabels,
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await self.containers())
          if (c.cpuNanos !== undefined) this.inc(taskLabels(c), c.cpuNanos / 1e9);
      },
    });
    new Gauge({
      name: 'skiff_container_memory_bytes',
      help: "Memory the container's cgroup uses, page cache included (memory.usage_in_bytes).",
      labelNames: containerLabels,
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await self.containers())
          if (c.memoryBytes !== undefined) this.set(taskLabels(c), c.memoryBytes);
      },
    });
    new Gauge({
      name: 'skiff_container_memory_limit_bytes',
      help: "The container's memory limit, when it has one (memory.limit_in_bytes).",
      labelNames: containerLabels,
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await self.containers())
          if (c.memoryLimitBytes !== undefined) this.set(taskLabels(c), c.memoryLimitBytes);
      },
    });
    const netLabels = [...containerLabels, 'interface'] as const;
    new Counter({
      name: 'skiff_container_network_receive_bytes_total',
      help: "Bytes received on the container's interfaces (its network namespace's /proc/net/dev).",
      labelNames: netLabels,
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await self.containers())
          for (const n of c.network) this.inc({ ...taskLabels(c), interface: n.interface }, n.rxBytes);
      },
    });
    new Counter({
      name: 'skiff_container_network_transmit_bytes_total',
      help: "Bytes sent from the container's interfaces (its network namespace's /proc/net/dev).",
      labelNames: netLabels,
      registers: [r],
      async collect() {
        this.reset();
        for (const c of await self.containers())
          for (const n of c.network) this.inc({ ...taskLabels(c), interface: n.interface }, n.txBytes);
      },
    });
  }

  /** The exposition text of every family, read now. */
  async metrics(): Promise<string> {
    const agent = this.src.agent();
    // Scrapes at the same moment share one read of the containers.
    this.scrape ??= agent ? agent.runtime.stats() : Promise.resolve([]);
    this.scrapes++;
    try {
      return await this.registry.metrics();
    } finally {
      if (--this.scrapes === 0) this.scrape = undefined;
    }
  }

  private containers(): Promise<ContainerStats[]> {
    return this.scrape ?? Promise.resolve([]);
  }
}

type RaftFigures = ReturnType<Manager['metricsSnapshot']>['raft'];

function taskLabels(c: ContainerStats): { service: string; task: string; node: string } {
  return {
    service: c.labels[SWARM_SERVICE_NAME_LABEL] ?? '',
    task: c.labels[SWARM_TASK_ID_LABEL] ?? c.id,
    node: c.labels[SWARM_NODE_ID_LABEL] ?? '',
  };
}

function countable(tasks: Task[]): string[] {
  return tasks.map((t) => t.Status.State ?? 'new');
}

/** One sample per task state (0 for the states no task is in), then the counts. */
function setCounts(g: Gauge<'state'>, states: string[]): void {
  for (const state of TASK_STATES) g.set({ state }, 0);
  for (const state of states) g.inc({ state });
}
