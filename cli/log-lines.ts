// Log lines as the API sends them with `details=1` (and maybe `timestamps=1`):
// "[TIME ]com.docker.swarm.node.id=N,com.docker.swarm.service.id=S,com.docker.swarm.task.id=T text".
// The CLI reads the task and node from them to prefix lines as docker does. Pure.

import { SWARM_NODE_ID_LABEL, SWARM_TASK_ID_LABEL } from '../lib/index.js';

export interface LogLine {
  time?: string;
  taskId?: string;
  nodeId?: string;
  text: string;
}

const DETAILS = /^((?:[\w.-]+=[^,\s]*)(?:,[\w.-]+=[^,\s]*)*) /;

export function parseLogLine(line: string, timestamps = false): LogLine {
  let rest = line;
  let time: string | undefined;
  if (timestamps) {
    const sp = rest.indexOf(' ');
    if (sp > 0) {
      time = rest.slice(0, sp);
      rest = rest.slice(sp + 1);
    }
  }
  const m = DETAILS.exec(rest);
  const attrText = m?.[1];
  if (!attrText?.includes(`${SWARM_TASK_ID_LABEL}=`)) return { ...(time ? { time } : {}), text: rest };
  const attrs = new Map(
    attrText.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const taskId = attrs.get(SWARM_TASK_ID_LABEL);
  const nodeId = attrs.get(SWARM_NODE_ID_LABEL);
  return {
    ...(time ? { time } : {}),
    ...(taskId ? { taskId } : {}),
    ...(nodeId ? { nodeId } : {}),
    text: rest.slice(attrText.length + 1),
  };
}
