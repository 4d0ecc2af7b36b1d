// `skiff dashboard`: the web dashboard of the node this CLI talks to (its local socket,
// or a remote manager over mTLS), served on 127.0.0.1 until interrupted.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { startDashboard } from '../../dashboard/index.js';
import { clientFor, type GlobalOptions } from '../context.js';
import { CliUsageError } from '../output.js';

interface DashboardFlags {
  listen?: string;
  open: boolean;
}

export function registerDashboard(program: Command): void {
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  program
    .command('dashboard')
    .description('serve the web dashboard on 127.0.0.1 and open it in a browser')
    .option('--listen <host:port>', 'where to serve (default: 127.0.0.1 on a free port)')
    .option('--no-open', 'print the URL (first line of output) instead of opening a browser')
    .action(async (flags: DashboardFlags) => {
      const listen = parseListen(flags.listen);
      const client = clientFor(g());
      await client.ping();
      const dashboard = await startDashboard({ upstream: client, ...listen });
      process.stdout.write(`${dashboard.url}\n`);
      process.stderr.write(`serving the dashboard of ${client.target}; press Ctrl-C to stop\n`);
      if (flags.open) openBrowser(dashboard.url);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          done();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await dashboard.close();
      await client.close();
    });
}

function parseListen(raw: string | undefined): { host?: string; port?: number } {
  if (raw === undefined) return {};
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(raw);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new CliUsageError(`--listen takes HOST:PORT (e.g. 127.0.0.1:8080), not "${raw}"`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** The desktop's browser, if there is one; the URL is printed either way. */
function openBrowser(url: string): void {
  const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
  child.once('error', () => process.stderr.write(`no browser to open (xdg-open): open ${url} yourself\n`));
  child.unref();
}
