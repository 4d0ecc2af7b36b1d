// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which these tests feed in and expect back as written
// A service page's "spec as the user wrote it", in headless Chromium against a node of
// the test's own: a compose service shows its section of compose.yaml (comments kept,
// `${VAR}` as written, never the value from .env) with the file's name and line; a
// change of comments alone is no change (`up --dry-run` plans none); a real change shows
// the new text without a reload; a service made with the real docker CLI shows the
// fields it set, without the defaults the docker CLI and the node filled in.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerNode } from '../../support/docker-cli.js';
import { PAGE_POLLING, startDashboardCli, stopProcess } from './helpers.js';

const CHROMIUM = process.env.SKIFF_CHROMIUM ?? '/usr/bin/chromium';
const IMAGE = 'localhost/spec-busybox:1';

interface Win {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

const WEB = (extra: string[]) =>
  [
    '  # The front end: one line per request in its log.',
    '  web:',
    `    image: ${IMAGE}   # imported by the test`,
    '    command: ["sh", "-c", "exec sleep 100000"]',
    '    environment:',
    '      GREETING: ${GREETING}',
    ...extra,
    '    stop_grace_period: 1s',
  ].join('\n');

const composeFile = (web: string, comment = '# spec test') =>
  [
    'name: spec',
    comment,
    'services:',
    web,
    '',
    '  # no comment of web',
    '  db:',
    `    image: ${IMAGE}`,
    '    command: ["sleep", "100000"]',
    '    stop_grace_period: 1s',
    '',
  ].join('\n');

/** Waits until `selector`'s text in the page is `text`. */
async function seeText(page: Page, selector: string, text: string): Promise<void> {
  await page
    .waitForFunction(
      (s: string, t: string) => (globalThis as unknown as Win).document.querySelector(s)?.textContent === t,
      { timeout: 30_000, polling: PAGE_POLLING },
      selector,
      text,
    )
    .catch(async (e: unknown) => {
      const now = await page.$eval(selector, (n) => n.textContent).catch(() => '(none)');
      throw new Error(`${selector} shows ${JSON.stringify(now)}, not ${JSON.stringify(text)}: ${String(e)}`);
    });
}

describe('a service page shows its spec as written', () => {
  // The file's afterAll below runs before the node's (vitest runs after-hooks as a stack).
  const d = dockerNode({
    image: IMAGE,
    page: 'spec test\n',
    tmpPrefix: 'skiff-spec-',
    cleanup: () => [['service', 'rm', 'api']],
  });
  const { docker } = d;
  let dashboard: { proc: ChildProcess; url: string } | undefined;
  let browser: Browser | undefined;
  let composed = false;

  const idOf = async (name: string) =>
    (await d.node.skiff(['service', 'inspect', '--format', '{{.ID}}', name])).stdout.trim();

  beforeAll(async () => {
    writeFileSync(join(d.dir, '.env'), 'GREETING=hunter2\n');
    writeFileSync(join(d.dir, 'compose.yaml'), composeFile(WEB([])));
    composed = true;
    const up = await d.node.skiff(['compose', 'up', '-d'], { cwd: d.dir });
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopProcess(dashboard?.proc);
    if (composed) await d.node.skiff(['compose', 'down'], { cwd: d.dir });
  });

  it('shows the compose text, unchanged by a comment, changed live by a deploy, and an API-made service without defaults', async () => {
    const made = await docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '--name',
      'api',
      '--replicas',
      '2',
      '--env',
      'A=1',
      '--label',
      'team=core',
      IMAGE,
      'sleep',
      '100000',
    ]);
    expect(made.code, made.stderr).toBe(0);

    dashboard = await startDashboardCli(d.node);
    const origin = new URL('/', dashboard.url).href;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(dashboard.url, { waitUntil: 'load' });

    // The compose service: its section of compose.yaml as written, from its comment on.
    await page.goto(`${origin}#/services/${await idOf('spec_web')}`);
    const section = 'section.spec-written[data-kind="compose"]';
    await seeText(page, `${section} figcaption`, 'compose.yaml, line 4');
    await seeText(page, `${section} pre`, WEB([]));
    expect(await page.$eval(section, (s) => s.textContent)).not.toContain('hunter2');

    // Comments and layout alone: no change planned, none made.
    writeFileSync(join(d.dir, 'compose.yaml'), composeFile(`${WEB([])}\n    # more to come`, '# renamed'));
    const plan = await d.node.skiff(['compose', 'up', '-d', '--dry-run'], { cwd: d.dir });
    expect(plan.stdout, plan.stderr).toContain('no changes');
    expect(plan.code).toBe(0);
    const same = await d.node.skiff(['compose', 'up', '-d'], { cwd: d.dir });
    expect(same.code, same.stderr).toBe(0);
    await seeText(page, `${section} pre`, WEB([]));

    // A real change: the page shows the new text without a reload.
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded?: boolean }).notReloaded = true;
    });
    const changed = WEB(['      LEVEL: "2"   # louder']);
    writeFileSync(join(d.dir, 'compose.yaml'), composeFile(changed));
    const up = await d.node.skiff(['compose', 'up', '-d'], { cwd: d.dir });
    expect(up.code, up.stderr).toBe(0);
    await seeText(page, `${section} pre`, changed);
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );

    // The service made with the docker CLI: what its flags set, nothing more.
    await page.goto(`${origin}#/services/${await idOf('api')}`);
    const fields = 'section.spec-written[data-kind="fields"] pre';
    await page.waitForSelector(fields, { timeout: 30_000 });
    const text = await page.$eval(fields, (p) => p.textContent ?? '');
    for (const set of ['Name: api', 'team: core', `Image: ${IMAGE}`, '- A=1', 'Replicas: 2', '- sleep'])
      expect(text).toContain(set);
    // What the docker CLI and the node filled in is left out (the full spec keeps it).
    for (const filled of ['vip', 'Init', 'DNSConfig', 'Resources', 'Placement', 'ForceUpdate'])
      expect(text).not.toContain(filled);
    const kept = await page.$eval('details.spec pre', (p) => p.textContent ?? '');
    expect(kept).toContain('"Mode": "vip"');
    expect(kept).toContain('"Init": false');
    expect(errors).toEqual([]);

    expect(await stopProcess(dashboard.proc)).toBe(0);
  });
});
