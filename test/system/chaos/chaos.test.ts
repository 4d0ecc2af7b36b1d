// The chaos run of `npm run chaos` (test/chaos/) for 2 minutes with a fixed seed: 3
// managers + 3 workers of the real daemon under writing clients, a request loop and the
// seeded nemesis (kill -9 of leader, follower and agent, a paused manager, a host cut
// off). Nothing acknowledged is lost, the history is linearizable, the cluster converges
// and no host keeps leftovers. A failure leaves the history and the daemons' logs in the
// temp dir (named in the message) to replay with the seed.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSummary, runChaos } from '../../chaos/run.js';

describe('the whole cluster under a seeded nemesis (2 minutes, seed 1)', () => {
  it('loses no acknowledged write, stays linearizable, converges and leaves nothing behind', async () => {
    const out = join(tmpdir(), `skiff-chaos-test-${process.pid}.json`);
    const r = await runChaos({ minutes: 2, seed: 1, out });
    const report = [
      ...formatSummary(r.summary),
      ...r.verdict.lost.map((l) => `lost ${l.key}: ${l.found}, want ${l.allowed.join(' or ')}`),
      ...r.convergence,
      ...r.orphans.map((o) => `orphan on ${o.host}: ${o.what} ${o.id}`),
      `history: ${out}`,
    ].join('\n');
    // At least one fault of each kind in the first version of the schedule.
    expect(r.schedule.length, report).toBeGreaterThanOrEqual(5);
    expect(
      r.schedule.filter((f) => f.error),
      report,
    ).toEqual([]);
    expect(r.summary.acknowledged, report).toBeGreaterThan(100);
    expect(r.summary.lost, report).toBe(0);
    expect(r.summary.linearizable, report).toBe(true);
    expect(r.summary.converged, report).toBe(true);
    expect(r.summary.orphans, report).toBe(0);
    expect(r.summary.successRate, report).toBeGreaterThanOrEqual(0.95);
    if (r.ok) rmSync(out, { force: true });
  }, 900_000);
});
