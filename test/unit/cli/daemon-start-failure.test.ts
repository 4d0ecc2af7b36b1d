import { describe, expect, it } from 'vitest';
import { startFailureFromLog } from '../../../cli/daemon/start-failure.js';

describe('why a background node did not start, from its log', () => {
  it('takes the CLI error line and its hint', () => {
    const log = [
      '{"level":30,"msg":"starting"}',
      'error: the store snapshot is of store format 3; this skiff reads store formats 1 to 2',
      'hint: upgrade skiff',
    ].join('\n');
    expect(startFailureFromLog(log)).toEqual({
      reason: 'the store snapshot is of store format 3; this skiff reads store formats 1 to 2',
      hint: 'upgrade skiff',
    });
  });

  it('takes the last pino line at error level or above, with its err', () => {
    const log = [
      '{"level":50,"msg":"first"}',
      '{"level":40,"msg":"a warning"}',
      '{"level":60,"err":"ENOSPC","msg":"the raft log cannot be written"}',
      '',
    ].join('\n');
    expect(startFailureFromLog(log)).toEqual({ reason: 'the raft log cannot be written (ENOSPC)' });
  });

  it('says nothing when the log holds no error', () => {
    expect(startFailureFromLog('{"level":30,"msg":"ready"}\nnot json {\n')).toEqual({});
  });

  it('does not pair a hint with a later error', () => {
    const log = 'error: one\nhint: for one\n{"level":50,"msg":"two"}\n';
    expect(startFailureFromLog(log)).toEqual({ reason: 'two' });
  });
});
