// `GET /skiff/services/{id}/stats`: the CPU and memory of a service's running tasks,
// read now from the cgroups of every node that runs them. skiff's own endpoint (the
// dashboard's charts read it); Docker has no per-service stats.

/** One running task's usage, as its node read it. */
export interface ServiceTaskStats {
  taskId: string;
  nodeId: string;
  /** When its node read it, ms since the epoch. */
  timeMs: number;
  /** CPU time of its processes, in nanoseconds (a counter: charts take differences). */
  cpuNanos?: number;
  /** Its cgroup memory, page cache included. */
  memoryBytes?: number;
  memoryLimitBytes?: number;
}

export interface ServiceStats {
  serviceId: string;
  serviceName: string;
  /** When the manager answered, ms since the epoch. */
  timeMs: number;
  tasks: ServiceTaskStats[];
  /** Nodes running tasks of the service that did not answer in time, and why: their tasks are missing. */
  unreachable: { nodeId: string; message: string }[];
}
