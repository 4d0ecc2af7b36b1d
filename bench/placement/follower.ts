// A follower manager of the placement benchmark, in a worker thread of its own (its own
// V8 isolate and event loop, as a manager on another machine would have): a Store over a
// RaftNode on loopback. It answers 'status' with its applied index and task count and
// stops on 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import { type FollowerData, startFollowerManager } from './follower-manager.js';

export type FollowerReply =
  | { type: 'ready' }
  | { type: 'status'; appliedIndex: number; tasks: number }
  | { type: 'stopped' };

const data = workerData as FollowerData;
const port = parentPort!;
const { store, raft } = await startFollowerManager(data);
const reply = (m: FollowerReply) => port.postMessage(m);
port.on('message', (m: { type: 'status' | 'stop' }) => {
  if (m.type === 'status') {
    reply({ type: 'status', appliedIndex: store.appliedIndex, tasks: store.listTasks().length });
  } else {
    void raft.stop().finally(() => {
      reply({ type: 'stopped' });
      port.close();
    });
  }
});
reply({ type: 'ready' });
