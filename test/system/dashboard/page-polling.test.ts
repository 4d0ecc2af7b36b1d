// The dashboard tests' waits in a real page see a figure that changes in place: preact
// sets the text node's data, which puppeteer's 'mutation' polling never noticed (the
// dashboard test once timed out waiting for a "3/3" that the page was showing).
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_POLLING } from './helpers.js';

const CHROMIUM = process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium';

interface Doc {
  document: {
    querySelector(s: string): { textContent: string | null; firstChild: { data: string } | null } | null;
  };
}

let browser: Browser | undefined;
beforeAll(async () => {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});
afterAll(async () => {
  await browser?.close();
});

describe('waiting in the page', () => {
  it('sees a text that changes in place, with nothing else in the page changing', async () => {
    const page = await browser!.newPage();
    await page.setContent('<span class="replicas">2/2</span>');
    // After the wait has started: only the text node's data changes, as preact does it.
    await page.evaluate(() => {
      setTimeout(() => {
        const text = (globalThis as unknown as Doc).document.querySelector('.replicas')?.firstChild;
        if (text) text.data = '3/3';
      }, 300);
    });
    await page.waitForFunction(
      () => (globalThis as unknown as Doc).document.querySelector('.replicas')?.textContent === '3/3',
      { timeout: 10_000, polling: PAGE_POLLING },
    );
    expect(await page.$eval('.replicas', (e) => e.textContent)).toBe('3/3');
    await page.close();
  });
});
