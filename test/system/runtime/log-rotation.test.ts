// Logs rotate by size: the file never grows far past the limit and the newest lines
// stay readable.
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHarness, type Harness, lines } from './harness.js';

const LIMIT = 16 * 1024;
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ logSizeMax: LIMIT });
});
afterAll(async () => {
  await h?.cleanup();
});

it('rotates the log by size and keeps the newest lines', async () => {
  const { info, logs } = await h.run({
    Command: [
      'sh',
      '-c',
      'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "line $i ................................"; done',
    ],
  });
  expect(info.exitCode).toBe(0);
  expect((await stat(info.logPath)).size).toBeLessThanOrEqual(LIMIT);
  const out = lines(logs);
  expect(out.at(-1)).toBe('line 3000 ................................');
  expect(out.length).toBeLessThan(3000);
  // What is kept is a contiguous run of the newest lines.
  const nums = out.map((l) => Number(l.split(' ')[1]));
  expect(nums).toEqual(nums.map((_, i) => nums[0]! + i));
});
