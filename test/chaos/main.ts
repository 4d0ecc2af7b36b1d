// `npm run chaos -- --minutes N [--seed S] [--out FILE] [--every-host] [--keep-logs] [--faults K,K…]`: one chaos run
// (run.ts) on a fresh lab cluster; prints the summary, writes the history, the nemesis
// schedule and the request probes to FILE (default chaos-<seed>.json in the temp dir),
// and exits 1 on a lost write, a non-linearizable history, no convergence, an orphan, or
// a harness error (a daemon it could not start again at the end: the summary says why).
// Needs root and a build (`npx tsc -p tsconfig.build.json`): the daemons run bin/skiff.js.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './nemesis.js';
import { formatSummary, runChaos } from './run.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'every-host': { type: 'boolean', default: false },
    faults: { type: 'string' },
    'keep-logs': { type: 'boolean', default: false },
  },
});
const usage = `usage: npm run chaos -- --minutes N [--seed S] [--out FILE] [--every-host] [--keep-logs] [--faults ${FAULT_KINDS.join(',')}]\n`;
const kinds = values.faults?.split(',').map((k) => k.trim());
const unknown = kinds?.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`unknown fault kind ${unknown.join(', ')}\n${usage}`);
  process.exit(2);
}
const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(values.seed);
if (!(minutes > 0) || !Number.isInteger(seed)) {
  process.stderr.write(usage);
  process.exit(2);
}
const out = values.out ?? join(tmpdir(), `chaos-${seed}.json`);
const result = await runChaos({
  minutes,
  seed,
  out,
  everyHost: values['every-host'],
  keepLogs: values['keep-logs'],
  ...(kinds ? { kinds: kinds as FaultKind[] } : {}),
  log: (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`),
});
for (const l of formatSummary(result.summary)) process.stdout.write(`${l}\n`);
for (const l of result.verdict.lost)
  process.stdout.write(`lost: ${l.key} holds ${l.found}, want one of ${l.allowed.join(', ')}\n`);
for (const p of result.convergence) process.stdout.write(`not converged: ${p}\n`);
for (const o of result.orphans) process.stdout.write(`orphan on ${o.host}: ${o.what} ${o.id}\n`);
process.stdout.write(`history and schedule: ${out}\n`);
process.exit(result.ok ? 0 : 1);
