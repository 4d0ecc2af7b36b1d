// This node's containers in `GET /events`, as dockerd shows them: Type `container`, scope
// `local`, the container's name, its exit code on `die`, and its labels (the Swarm task
// labels among them). The API starts before the agent: listeners wait here for it.
import type { NodeAgent } from '../agent/index.js';
import type { DockerEvent, LocalEventSource } from '../manager/index.js';

type LifecycleEvent = Parameters<Parameters<NodeAgent['runtime']['onLifecycle']>[0]>[0];

export class ContainerEvents {
  private readonly listeners = new Set<(e: DockerEvent) => void>();

  readonly source: LocalEventSource = (emit) => {
    this.listeners.add(emit);
    return () => {
      this.listeners.delete(emit);
    };
  };

  /** Relays the agent's container lifecycle; returns the unsubscribe. */
  follow(agent: NodeAgent): () => void {
    return agent.runtime.onLifecycle((e) => {
      const ev = dockerContainerEvent(e);
      for (const l of [...this.listeners]) l(ev);
    });
  }
}

export function dockerContainerEvent(e: LifecycleEvent): DockerEvent {
  const ms = e.time.getTime();
  const attrs: Record<string, string> = { ...e.labels, name: e.name };
  if (e.exitCode !== undefined) attrs.exitCode = String(e.exitCode);
  if (e.oomKilled) attrs.oomKilled = 'true';
  return {
    Type: 'container',
    Action: e.action === 'health_status' ? `health_status: ${e.health ?? 'none'}` : e.action,
    Actor: { ID: e.id, Attributes: attrs },
    scope: 'local',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1e6,
  };
}
