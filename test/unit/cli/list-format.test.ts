// printList's `--format json`: JSON Lines of the row objects, as docker 28's `{{json .}}`
// prints them (the expected lines are docker's own output for the same rows).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SERVICE_COLUMNS } from '../../../cli/commands/service.js';
import { goTime, printList } from '../../../cli/output.js';

function captured(print: () => void): string {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    print();
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('printList --format json', () => {
  it('prints one line per row with docker’s keys, sorted, and Go’s escapes', () => {
    const row = ['8z31u3oqgko4', 'kweb', 'replicated', '1/1', 'localhost/keys-busybox:1', '*:18099->80/tcp'];
    const out = captured(() => printList('json', SERVICE_COLUMNS, [row, row]));
    const line =
      '{"ID":"8z31u3oqgko4","Image":"localhost/keys-busybox:1","Mode":"replicated","Name":"kweb",' +
      '"Ports":"*:18099-\\u003e80/tcp","Replicas":"1/1"}\n';
    expect(out).toBe(line + line);
  });

  it('prints nothing for no rows, not an empty array', () => {
    expect(captured(() => printList('json', SERVICE_COLUMNS, []))).toBe('');
  });

  it('adds the row’s other fields, typed, over the columns’ cells', () => {
    const columns = [
      { header: 'ID', field: 'ID' },
      { header: 'HOSTNAME', field: 'Hostname' },
    ];
    const rows = [['10uo5eqly3yk *', 'vm']];
    const extra = [{ ID: '10uo5eqly3yk', Self: true, TLSStatus: 'Unknown' }];
    expect(captured(() => printList('json', columns, rows, extra))).toBe(
      '{"Hostname":"vm","ID":"10uo5eqly3yk","Self":true,"TLSStatus":"Unknown"}\n',
    );
    // A template sees the same row; the table keeps its cells.
    expect(captured(() => printList('{{.ID}} {{.Self}}', columns, rows, extra))).toBe('10uo5eqly3yk true\n');
    expect(captured(() => printList(undefined, columns, rows, extra))).toBe(
      'ID               HOSTNAME\n10uo5eqly3yk *   vm\n',
    );
  });
});

describe('goTime', () => {
  it('prints a time as Go’s time.Time.String() in UTC, as docker’s CreatedAt', () => {
    expect(goTime('2026-12-07T16:45:14.092Z')).toBe('2026-12-07 16:45:14.092 +0000 UTC');
    expect(goTime('2026-12-07T16:45:14.120000000Z')).toBe('2026-12-07 16:45:14.12 +0000 UTC');
    expect(goTime('0001-01-01T00:00:00Z')).toBe('0001-01-01 00:00:00 +0000 UTC');
    expect(goTime(1796661915)).toBe('2026-12-07 16:45:15 +0000 UTC');
  });
});
