// A link to a service page followed while the dashboard comes up: the hash changed after
// the app's first render but before its hashchange listener was in place, so the event
// was lost and the page stayed on the services list (the spec test met it under load).
// Here the hash changes at DOMContentLoaded, after the first render, every time.
import { join, resolve } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../../dashboard/index.js';
import { type DashboardPage, FakeDashboardNode } from '../../support/dashboard-fake-node.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHROMIUM = process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium';

describe('the dashboard opened at one route and moved to another as it comes up', () => {
  let dashboard: Dashboard | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await dashboard?.close();
  });

  it('shows the route the hash names once it is up', async () => {
    const fake = new FakeDashboardNode({ services: 5, tasksPerService: 1 });
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
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.evaluateOnNewDocument(() => {
      const w = globalThis as unknown as {
        document: { addEventListener(t: string, f: () => void): void };
        location: { hash: string };
      };
      w.document.addEventListener('DOMContentLoaded', () => {
        w.location.hash = '#/events';
      });
    });
    await page.goto(dashboard.url);
    await page.waitForFunction(
      () => {
        const h1s = (globalThis as unknown as DashboardPage).document.querySelectorAll('h1');
        return Array.from(h1s).some((h) => h.textContent === 'Events');
      },
      { timeout: 20_000, polling: 100 },
    );
    expect(errors).toEqual([]);
  });
});
