// The chaos harness's verdict on recorded histories: an acknowledged write that the
// cluster dropped is caught (lost, and not linearizable); writes of unknown outcome and
// refused writes are judged as they may or may not have happened.
import { describe, expect, it } from 'vitest';
import { judgeHistory, type OpRecord, requestFigures } from '../../chaos/history.js';

let nextId = 0;
const w = (
  name: string,
  value: string | null,
  invoke: number,
  response: number | null,
  outcome: OpRecord['outcome'] = 'ok',
): OpRecord => ({
  id: nextId++,
  client: 0,
  kind: value === null ? 'remove' : 'update',
  object: 'service',
  name,
  value,
  via: 'h1',
  invoke,
  response,
  outcome,
});
const finals = (entries: [string, string | null][]) => new Map(entries.map(([k, v]) => [`service/${k}`, v]));

describe('chaos history verdict', () => {
  // Two clients write a, then b, then remove c; the last writes are acknowledged.
  const history = [w('a', '1', 0, 10), w('a', '2', 20, 30), w('b', '3', 5, 15), w('b', null, 40, 50)];

  it('passes a history whose final state holds every acknowledged write', () => {
    const v = judgeHistory(
      history,
      finals([
        ['a', '2'],
        ['b', null],
      ]),
    );
    expect(v).toMatchObject({ acknowledged: 4, lost: [], linearizable: true });
  });

  it('catches an acknowledged write the store dropped', () => {
    // The store lost a's second write: a still holds 1.
    const v = judgeHistory(
      history,
      finals([
        ['a', '1'],
        ['b', null],
      ]),
    );
    expect(v.lost).toEqual([{ key: 'service/a', found: '1', allowed: ['2'] }]);
    expect(v.linearizable).toBe(false);
    expect(v.badKey).toBe('service/a');
  });

  it('catches an acknowledged remove that did not happen', () => {
    const v = judgeHistory(
      history,
      finals([
        ['a', '2'],
        ['b', '3'],
      ]),
    );
    expect(v.lost.map((l) => l.key)).toEqual(['service/b']);
    expect(v.linearizable).toBe(false);
  });

  it('allows a write of unknown outcome to have happened or not', () => {
    const h = [...history, w('a', '9', 35, null, 'unknown')];
    expect(
      judgeHistory(
        h,
        finals([
          ['a', '9'],
          ['b', null],
        ]),
      ),
    ).toMatchObject({ lost: [], linearizable: true });
    expect(
      judgeHistory(
        h,
        finals([
          ['a', '2'],
          ['b', null],
        ]),
      ),
    ).toMatchObject({ lost: [], linearizable: true });
    expect(
      judgeHistory(
        h,
        finals([
          ['a', '1'],
          ['b', null],
        ]),
      ).linearizable,
    ).toBe(false);
  });

  it('judges a long run with many writes of unknown outcome (a manager down for minutes)', () => {
    // Hundreds of writes left open on one name, interleaved with acknowledged ones: the
    // search over which of them happened must not explode (it crashed a 30-minute run).
    const h: OpRecord[] = [];
    for (let i = 0; i < 200; i++) {
      h.push(w('a', `u${i}`, 100 * i, null, 'unknown'));
      h.push(w('a', `k${i}`, 100 * i + 10, 100 * i + 20));
    }
    h.push(w('a', 'last', 30_000, null, 'unknown'));
    expect(judgeHistory(h, finals([['a', 'k199']]))).toMatchObject({ lost: [], linearizable: true });
    expect(judgeHistory(h, finals([['a', 'last']]))).toMatchObject({ lost: [], linearizable: true });
    // An acknowledged write overtaken: still caught.
    expect(judgeHistory(h, finals([['a', 'k10']])).linearizable).toBe(false);
  });

  it('leaves refused writes out, and allows either of two concurrent writes', () => {
    const h = [w('c', '5', 0, 10), w('c', '6', 2, 12), w('c', '7', 3, 4, 'fail')];
    expect(judgeHistory(h, finals([['c', '5']])).lost).toEqual([]);
    expect(judgeHistory(h, finals([['c', '6']])).lost).toEqual([]);
    const v = judgeHistory(h, finals([['c', '7']]));
    expect(v.lost).toHaveLength(1);
    expect(v.linearizable).toBe(false);
  });

  it('counts the request loop: success rate and the longest run of failures', () => {
    const probes = [0, 100, 200, 300, 400, 500].map((at, i) => ({ at, host: 'h1', ok: i !== 2 && i !== 3 }));
    expect(requestFigures(probes)).toEqual({ requests: 6, ok: 4, successRate: 4 / 6, longestOutageMs: 200 });
  });
});
