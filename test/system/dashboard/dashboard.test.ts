// `skiff dashboard` in a real headless Chromium (Debian's `chromium`, driven by
// puppeteer-core) against a node of the test's own running a stack of two services.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';
import { PAGE_POLLING, plainGet, startDashboardCli, stopProcess } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHROMIUM = process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium';
const IMAGE = 'localhost/dash-busybox:1';
/**
 * The screenshots shown in docs/dashboard.md go to docs/dashboard/ only with
 * SKIFF_UPDATE_SCREENSHOTS=1; otherwise to a temp dir the test removes, so that a test
 * run leaves the work tree clean.
 */
const UPDATE_SHOTS = process.env.SKIFF_UPDATE_SCREENSHOTS === '1';
const SHOT_NAMES = [
  'services-desktop.png',
  'service-desktop.png',
  'cluster-desktop.png',
  'cluster-phone.png',
  'services-phone.png',
  'service-phone.png',
];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };

/**
 * The page's globals as the functions run in the browser use them (this project type-checks
 * without the DOM library): `(globalThis as unknown as Win).document`.
 */
interface Win {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
    getElementById(id: string): { textContent: string | null } | null;
  };
  notReloaded?: boolean;
}

const replicasOf = (page: Page, service: string) =>
  page.$eval(`.grid-row[data-service="${service}"] .replicas`, (td) => td.textContent ?? '').catch(() => '');

/** Waits until the page shows `text` as the replicas of `service`. */
async function seeReplicas(page: Page, service: string, text: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    (s: string, t: string) =>
      (globalThis as unknown as Win).document.querySelector(`.grid-row[data-service="${s}"] .replicas`)
        ?.textContent === t,
    { timeout: timeoutMs, polling: PAGE_POLLING },
    service,
    text,
  );
}

/** Waits until both charts of a service page are drawn on a canvas with 2 points or more. */
async function seeCharts(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      ['cpu', 'memory'].every((name) => {
        const fig = (globalThis as unknown as Win).document.querySelector(`figure.chart.${name}`) as
          | ({ getAttribute(a: string): string | null } & { querySelector(s: string): unknown })
          | null;
        return Number(fig?.getAttribute('data-points') ?? 0) >= 2 && fig?.querySelector('canvas') !== null;
      }),
    { timeout: 60_000, polling: PAGE_POLLING },
  );
}

describe('skiff dashboard in headless Chromium', () => {
  let node: TestNode;
  let dir: string;
  let dashboard: { proc: ChildProcess; url: string } | undefined;
  let browser: Browser | undefined;
  let shots: string;

  beforeAll(async () => {
    shots = UPDATE_SHOTS ? join(ROOT, 'docs', 'dashboard') : mkdtempSync(join(tmpdir(), 'skiff-dash-shots-'));
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-dash-'));
    const imp = await importBusybox(node, dir, 'dashboard test\n', IMAGE);
    expect(imp.stderr).toBe('');
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: dash',
        'services:',
        '  web:',
        `    image: ${IMAGE}`,
        '    command: ["sh", "-c", "echo web says hello; exec httpd -f -p 80 -h /www"]',
        '    stop_grace_period: 1s',
        '    deploy:',
        '      replicas: 2',
        '      update_config:',
        '        parallelism: 1',
        '        delay: 2s',
        '  db:',
        `    image: ${IMAGE}`,
        '    command: ["sh", "-c", "echo db ready; exec sleep 100000"]',
        '    stop_grace_period: 1s',
        '',
      ].join('\n'),
    );
    const up = await node.skiff(['compose', 'up', '-d'], { cwd: dir });
    expect(up.stderr).toContain('dash_web: converged (2/2 running)');
    expect(up.code).toBe(0);
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopProcess(dashboard?.proc);
    if (node) {
      await node.skiff(['compose', 'down'], { cwd: dir });
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (shots && !UPDATE_SHOTS) rmSync(shots, { recursive: true, force: true });
  });

  it('shows the stack live, scales it and follows a rollout from the page, shows tasks, networks, rollouts, task events and logs, and refuses a browser without the token', async () => {
    dashboard = await startDashboardCli(node);
    const { url } = dashboard;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const origin = new URL('/', url).href;

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.setViewport(DESKTOP);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The charts library sets styles through the DOM: a CSP refusal would show here.
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    // The token was traded for the cookie and the address bar no longer shows it.
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(origin);

    await seeReplicas(page, 'dash_web', '2/2');
    await seeReplicas(page, 'dash_db', '1/1');
    await page.waitForFunction(
      (h: string) => (globalThis as unknown as Win).document.getElementById('hostname')?.textContent === h,
      {},
      hostname(),
    );
    await page.waitForFunction(
      () => (globalThis as unknown as Win).document.querySelector('.conn')?.textContent === 'live',
    );

    // Scale from the page: the action asks first, then the rows follow without a reload.
    await page.evaluate(() => {
      (globalThis as unknown as Win).notReloaded = true;
    });
    await page.click('.grid-row[data-service="dash_web"] button.scale');
    await page.waitForSelector('dialog.confirm[open]');
    const input = await page.$('dialog.confirm input[name="replicas"]');
    await input?.click({ count: 3 });
    await input?.type('3');
    expect(await page.$eval('dialog.confirm button.confirm', (b) => b.textContent)).toBe('Scale to 3');
    expect(await replicasOf(page, 'dash_web')).toBe('2/2');
    await page.click('dialog.confirm button.confirm');
    await page.waitForSelector('dialog.confirm', { hidden: true });
    await seeReplicas(page, 'dash_web', '3/3');
    expect(await page.evaluate(() => (globalThis as unknown as Win).notReloaded)).toBe(true);
    expect(await replicasOf(page, 'dash_db')).toBe('1/1');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'services-desktop.png') });

    const ls = await node.skiff(['service', 'ls']);
    expect(ls.stdout).toMatch(/dash_web\s+replicated\s+3\/3/);

    // A rolling update (one task at a time, 2 s apart) shows its progress, then its end.
    const update = await node.skiff(['service', 'update', '--env-add', 'V=2', '--detach', 'dash_web']);
    expect(update.code).toBe(0);
    await page.waitForFunction(
      () => {
        const w = globalThis as unknown as Win;
        const state = w.document.querySelector('.grid-row[data-service="dash_web"] .state')?.textContent;
        const progress = w.document.querySelector(
          '.grid-row[data-service="dash_web"] .progress-text',
        )?.textContent;
        return state === 'updating' && /^[0-3]\/3$/.test(progress ?? '');
      },
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelector('.grid-row[data-service="dash_web"] .state')
          ?.textContent === 'completed',
      { timeout: 90_000, polling: PAGE_POLLING },
    );
    await seeReplicas(page, 'dash_web', '3/3');

    // A service's page: its tasks and the lines they print, live.
    await page.click('.grid-row[data-service="dash_web"] .name a');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelectorAll(
          'table.tasks tr.current td.task-state.running',
        ).length === 3,
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    await page.waitForFunction(
      () =>
        ((globalThis as unknown as Win).document.querySelector('pre.logs')?.textContent ?? '').includes(
          'web says hello',
        ),
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    expect(await page.$eval('dl.facts dd.replicas', (d) => d.textContent)).toBe('3/3');
    // Its networks by name, and the rollout above in its history: an update, completed.
    expect(await page.$eval('dl.facts dd.networks', (d) => d.textContent)).toBe('dash_default');
    const rollouts = await page.$$eval('table.rollouts tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)),
    );
    expect(rollouts).toEqual([['update', 'completed', IMAGE]]);
    expect(
      await page.$eval('table.rollouts tbody td[data-label="Finished"]', (td) => td.textContent),
    ).not.toBe('—');
    // The node's own containers' events, as its tasks' events: the rollout's new tasks started.
    await page.waitForFunction(
      () =>
        [
          ...((globalThis as unknown as Win).document.querySelectorAll(
            'table.task-events td.event',
          ) as unknown as Iterable<{ textContent: string | null }>),
        ].some((td) => td.textContent === 'start'),
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    // Its CPU and memory, read from the node every few seconds while the page is open.
    await seeCharts(page);
    expect(await page.$eval('figure.chart.memory figcaption', (f) => f.textContent)).toMatch(
      /^Memory \d+(\.\d)? (KiB|MiB)$/,
    );
    expect(await page.$eval('figure.chart.cpu figcaption', (f) => f.textContent)).toMatch(
      /^CPU [\d.]+ cores$/,
    );
    await page.screenshot({ path: join(shots, 'service-desktop.png') });

    await page.goto(`${origin}#/cluster`);
    await page.waitForFunction(
      (h: string) =>
        (globalThis as unknown as Win).document.querySelector(`tr[data-node="${h}"] td.task-count`)
          ?.textContent === '4',
      { timeout: 30_000, polling: PAGE_POLLING },
      hostname(),
    );
    await page.screenshot({ path: join(shots, 'cluster-desktop.png') });
    await page.goto(`${origin}#/stacks`);
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Win).document.querySelector('tr[data-stack="dash"] .replicas')
          ?.textContent === '4/4',
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    // The changes seen since the page opened (the scale, the rollout), newest first.
    await page.goto(`${origin}#/events`);
    await page.waitForFunction(
      () =>
        [
          ...((globalThis as unknown as Win).document.querySelectorAll(
            'table.events td',
          ) as unknown as Iterable<{ textContent: string | null }>),
        ].some((td) => td.textContent === 'dash_web'),
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    await page.goto(`${origin}#/cluster`);
    await page.setViewport(PHONE);
    await page.screenshot({ path: join(shots, 'cluster-phone.png'), fullPage: true });
    await page.goto(origin);
    await seeReplicas(page, 'dash_web', '3/3');
    await page.screenshot({ path: join(shots, 'services-phone.png'), fullPage: true });
    await page.click('.grid-row[data-service="dash_web"] .name a');
    await page.waitForFunction(
      () =>
        ((globalThis as unknown as Win).document.querySelector('pre.logs')?.textContent ?? '').includes(
          'web says hello',
        ),
      { timeout: 30_000, polling: PAGE_POLLING },
    );
    await seeCharts(page);
    await page.screenshot({ path: join(shots, 'service-phone.png'), fullPage: true });
    await page.setViewport(DESKTOP);
    for (const name of SHOT_NAMES) {
      const png = readFileSync(join(shots, name));
      expect(png.length, name).toBeGreaterThan(PNG_SIGNATURE.length);
      expect(png.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE), `${name} is a PNG`).toBe(true);
    }

    // Without the token (and without the browser's cookie) every page is refused, and
    // the printed URL's token was good for one browser only.
    expect(await plainGet(origin)).toBe(401);
    expect(await plainGet(`${origin}api/node/services`)).toBe(401);
    expect(await plainGet(url)).toBe(401);
    expect(errors).toEqual([]);

    // Interrupting the command stops the server.
    expect(await stopProcess(dashboard.proc)).toBe(0);
    await waitFor(async () => (await plainGet(origin).catch(() => 0)) === 0, {
      what: 'the dashboard to stop',
    });
  });
});
