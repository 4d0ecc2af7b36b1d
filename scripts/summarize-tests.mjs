// Prints the closing line CI reads, `N passed, N failed`, from vitest's JSON report
// plus the pre-test checks (type check, lint); exits non-zero when anything failed.
import { readFileSync } from 'node:fs';

const [file, checksFailedArg, vitestRcArg] = process.argv.slice(2);
const checksFailed = Number(checksFailedArg ?? 0);
const vitestRc = Number(vitestRcArg ?? 0);
let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites ?? 0);
  // A suite that failed to load has no tests; count it so it cannot hide.
  for (const s of r.testResults ?? []) {
    if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) {
      console.log(`suite failed to run: ${s.name}: ${(s.message ?? '').split('\n')[0]}`);
    }
  }
  failed =
    (r.numFailedTests ?? 0) +
    (r.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0)
      .length;
} catch (e) {
  console.log(`could not read the vitest report ${file}: ${e.message}`);
  failed += 1;
}
if (checksFailed > 0) console.log(`${checksFailed} pre-test check(s) failed (type check or lint)`);
failed += checksFailed;
if (failed === 0 && vitestRc !== 0) {
  console.log(`vitest exited with ${vitestRc}`);
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
