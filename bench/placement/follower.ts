// A follower manager of the placement benchmark, in a worker thread of its own (its own
// V8 isolate and event loop, as a manager on another machine would have): a Store over a
// RaftNode on loopback. It answers 'status' with its applied index, task count and heap
// (this isolate's: one manager's), restarts from a fresh snapshot on 'restart' and stops
// on 'stop'.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import {
  collectGarbage,
  type FollowerData,
  type RestartFigures,
  restartFromSnapshot,
  startFollowerManager,
  threadCpuMs,
} from './follower-manager.js';

export type FollowerReply =
  | { type: 'ready' }
  | { type: 'status'; appliedIndex: number; tasks: number; heapBytes: number; cpuMs: number }
  | { type: 'restarted'; figures: RestartFigures }
  | { type: 'stopped' };

const data = workerData as FollowerData;
const port = parentPort!;
let m = await startFollowerManager(data);
const reply = (r: FollowerReply) => port.postMessage(r);
port.on('message', (msg: { type: 'status' | 'restart' | 'stop' }) => {
  if (msg.type === 'status') {
    const cpuMs = threadCpuMs();
    collectGarbage();
    reply({
      type: 'status',
      appliedIndex: m.store.appliedIndex,
      tasks: m.store.listTasks().length,
      heapBytes: getHeapStatistics().used_heap_size,
      cpuMs,
    });
  } else if (msg.type === 'restart') {
    void restartFromSnapshot(m, data).then((r) => {
      m = r.manager;
      reply({ type: 'restarted', figures: r.figures });
    });
  } else {
    void m.raft.stop().finally(() => {
      reply({ type: 'stopped' });
      port.close();
    });
  }
});
reply({ type: 'ready' });
