// Running `skiff dashboard` as a user would, and talking to it without a browser.
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { TestNode } from '../../support/skiff-node/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * How the tests' waits in the page re-check their condition: every 100 ms. Not
 * puppeteer's 'mutation' polling: its observer sees added nodes and attributes but not a
 * text node's data, which is how preact renders a changed figure ("2/2" becoming "3/3"
 * in place), so a wait could sleep through the very change it waited for.
 */
export const PAGE_POLLING: number | 'raf' | 'mutation' = 100;

/** GET without any cookie: what a browser without the session would get. */
export function plainGet(url: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Starts `skiff [globalArgs] dashboard --no-open [args]` on `node`; resolves with the process and the first line it printed. */
export function startDashboardCli(
  node: TestNode,
  globalArgs: string[] = [],
  args: string[] = [],
): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'skiff.js'), ...globalArgs, 'dashboard', '--no-open', ...args],
    {
      env: node.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`no URL from skiff dashboard within 30 s: ${err}`)),
      30_000,
    );
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        done({ proc, url: out.slice(0, nl) });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`skiff dashboard exited (${code}) before printing its URL: ${err}`));
    });
  });
}

export function stopProcess(proc: ChildProcess | undefined): Promise<number | null> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve(proc?.exitCode ?? null);
  return new Promise((done) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', (code) => {
      clearTimeout(kill);
      done(code);
    });
    proc.kill('SIGTERM');
  });
}

/** A client with the session: trades the URL's token for the cookie, then GETs with it. */
export async function sessionFor(
  url: string,
): Promise<(path: string) => Promise<{ status: number; body: string }>> {
  const get = (u: string, cookie?: string) =>
    new Promise<{ status: number; body: string; setCookie: string | undefined }>((done, fail) => {
      const req = request(u, { headers: cookie ? { cookie } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie']?.[0] }),
        );
      });
      req.on('error', fail);
      req.end();
    });
  const first = await get(url);
  if (first.status !== 303 || !first.setCookie)
    throw new Error(`no session from ${url}: HTTP ${first.status}`);
  const cookie = first.setCookie.split(';')[0] ?? '';
  return async (path) => {
    const r = await get(new URL(path, url).href, cookie);
    return { status: r.status, body: r.body };
  };
}
