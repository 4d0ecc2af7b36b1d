// The dashboard at scale, in headless Chromium, against a FAKE node (an in-memory API:
// test/support/dashboard-fake-node.ts) of 1,000 services and 10,000 tasks: the services
// page shows every row, and a burst of 1,000 task events shows in every row. What it
// checks is content, each within a deadline; how fast is bench/dashboard.ts's business.
import { join, resolve } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../../dashboard/index.js';
import { type DashboardPage, FakeDashboardNode } from '../../support/dashboard-fake-node.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHROMIUM = process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium';
const SERVICES = 1_000;
const TASKS_PER_SERVICE = 10;

describe('the dashboard with 1,000 services and 10,000 tasks (fake node)', () => {
  let dashboard: Dashboard | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await dashboard?.close();
  });

  it('shows all 1,000 services and reflects a burst of 1,000 task events in every row', async () => {
    const fake = new FakeDashboardNode({ services: SERVICES, tasksPerService: TASKS_PER_SERVICE });
    dashboard = await startDashboard({
      upstream: fake,
      assetsDir: join(ROOT, 'dist', 'dashboard', 'assets'),
    });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(dashboard.url);

    // Every service has its row, each showing all its tasks running.
    const rowsShowing = (want: string) =>
      page.waitForFunction(
        (n: number, text: string) => {
          const cells = (globalThis as unknown as DashboardPage).document.querySelectorAll(
            '[data-service] .replicas',
          );
          if (cells.length !== n) return false;
          for (let i = 0; i < cells.length; i++) if (cells[i]?.textContent !== text) return false;
          return true;
        },
        { timeout: 60_000, polling: 200 },
        SERVICES,
        want,
      );
    await rowsShowing(`${TASKS_PER_SERVICE}/${TASKS_PER_SERVICE}`);
    expect(
      await page.$$eval(
        '[data-service]',
        (rows) => new Set(rows.map((r) => r.getAttribute('data-service'))).size,
      ),
    ).toBe(SERVICES);
    expect(await page.$eval('[data-service="stack7_service507"] .replicas', (td) => td.textContent)).toBe(
      `${TASKS_PER_SERVICE}/${TASKS_PER_SERVICE}`,
    );
    await page.waitForFunction(
      () => (globalThis as unknown as DashboardPage).document.querySelector('.conn')?.textContent === 'live',
      { timeout: 30_000 },
    );

    // 1,000 task events at once (one per service, each now 9/10 running): every row follows.
    expect(fake.burst(TASKS_PER_SERVICE - 1)).toBe(SERVICES);
    await rowsShowing(`${TASKS_PER_SERVICE - 1}/${TASKS_PER_SERVICE}`);
    // And back: a second burst is not lost behind the first.
    fake.burst(TASKS_PER_SERVICE);
    await rowsShowing(`${TASKS_PER_SERVICE}/${TASKS_PER_SERVICE}`);
    expect(errors).toEqual([]);
  });
});
