import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../../../cli/log-lines.js';

const details = 'com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1';

describe('log lines with details', () => {
  it('give the task and node apart from the text', () => {
    expect(parseLogLine(`${details} hello world`)).toEqual({
      taskId: 't1',
      nodeId: 'n1',
      text: 'hello world',
    });
    expect(parseLogLine(`${details} `)).toEqual({ taskId: 't1', nodeId: 'n1', text: '' });
  });

  it('take the timestamp first when asked for', () => {
    expect(parseLogLine(`2026-11-23T18:00:00.000Z ${details} a=b c`, true)).toEqual({
      time: '2026-11-23T18:00:00.000Z',
      taskId: 't1',
      nodeId: 'n1',
      text: 'a=b c',
    });
  });

  it('leave a line without details as it is, even one that looks like key=value', () => {
    expect(parseLogLine('level=info msg=started')).toEqual({ text: 'level=info msg=started' });
    expect(parseLogLine('plain text')).toEqual({ text: 'plain text' });
  });
});
