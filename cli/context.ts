// What every client command needs: the API client for the chosen manager, with the TLS
// material a manager on TCP asks for.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SkiffError } from '../lib/index.js';
import { daemonPaths } from '../node/index.js';
import { ApiClient, type ApiClientOptions } from './api/index.js';
import {
  type ContextTls,
  currentContextName,
  DEFAULT_CONTEXT,
  findContext,
  type StoredContext,
} from './context-store.js';

export interface GlobalOptions {
  host?: string;
  /** --context: a context of `skiff context create` (env SKIFF_CONTEXT). */
  context?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** The stored context in effect, or undefined for --host and the default context. */
export function activeContext(opts: GlobalOptions): StoredContext | undefined {
  if (opts.host && opts.context)
    throw new SkiffError(
      'invalid_argument',
      'conflicting options: either give --host or --context, not both',
      {
        hint: 'drop one of them',
      },
    );
  if (opts.host) return undefined;
  const name = currentContextName(opts);
  return name === DEFAULT_CONTEXT ? undefined : findContext(name);
}

/** --host, else the context's host, else SKIFF_HOST; undefined for the local node. */
export function explicitHost(opts: GlobalOptions): string | undefined {
  const context = activeContext(opts); // first: it refuses --host with --context
  return opts.host ?? context?.Host ?? process.env.SKIFF_HOST;
}

/** --host or the context's host, else SKIFF_HOST, else the local node's socket (which honours SKIFF_RUN_DIR). */
export function targetHost(opts: GlobalOptions): string {
  return explicitHost(opts) ?? `unix://${daemonPaths().socket}`;
}

export function clientFor(opts: GlobalOptions, host = targetHost(opts)): ApiClient {
  return new ApiClient(clientOptions(opts, host));
}

export function clientOptions(opts: GlobalOptions, host: string): ApiClientOptions {
  if (!host.startsWith('tcp://')) return { host };
  return { host, tls: tlsMaterial(opts, host) };
}

type PemFiles = { ca: string; cert?: string; key?: string };

/**
 * Where the certificates for a TCP manager come from, first found wins: the flags;
 * SKIFF_CERT_PATH (ca.pem, cert.pem, key.pem, as DOCKER_CERT_PATH); ~/.skiff; and on a
 * manager node its own identity (<state>/certs).
 */
export function tlsMaterial(opts: GlobalOptions, host: string): { ca: string; cert?: string; key?: string } {
  const fromContext = opts.tlscacert || opts.tlscert || opts.tlskey ? undefined : activeContext(opts)?.TLS;
  if (fromContext) return checkedKey(fromContext, 'of the context');
  const files = certFiles(opts);
  if (!files) {
    throw new SkiffError('unauthorized', `no TLS certificates to talk to the manager at ${host}`, {
      hint: "pass --tlscacert, --tlscert and --tlskey (a manager's certificate), or put ca.pem, cert.pem and key.pem in ~/.skiff or $SKIFF_CERT_PATH",
    });
  }
  if ((files.cert === undefined) !== (files.key === undefined))
    throw new SkiffError('invalid_argument', '--tlscert and --tlskey go together', {
      hint: 'pass both, or neither',
    });
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new SkiffError('invalid_argument', `cannot read the ${what} ${path}: ${(e as Error).message}`, {
        hint: 'check the path and its permissions',
      });
    }
  };
  const key = files.key ? read('client key', files.key) : undefined;
  return checkedKey(
    {
      ca: read('CA certificate', files.ca),
      ...(files.cert ? { cert: read('client certificate', files.cert) } : {}),
      ...(key !== undefined ? { key } : {}),
    },
    files.key ?? '',
  );
}

function checkedKey(tls: ContextTls, where: string): ContextTls {
  // A manager's own key under autolock is sealed (manager/ca/key-files.ts): no PEM key.
  if (tls.key?.startsWith('-----BEGIN SKIFF LOCKED KEY-----'))
    throw new SkiffError('unauthorized', `the client key ${where} is locked (the cluster is autolocked)`, {
      hint: 'pass a client certificate of your own: --tlscacert, --tlscert and --tlskey, or put ca.pem, cert.pem and key.pem in ~/.skiff or $SKIFF_CERT_PATH',
    });
  return tls;
}

function certFiles(opts: GlobalOptions): PemFiles | undefined {
  if (opts.tlscacert || opts.tlscert || opts.tlskey) {
    if (!opts.tlscacert)
      throw new SkiffError('invalid_argument', '--tlscacert is needed with --tlscert/--tlskey', {
        hint: "the cluster CA's certificate: ca.crt in a manager's certs directory",
      });
    return {
      ca: opts.tlscacert,
      ...(opts.tlscert ? { cert: opts.tlscert } : {}),
      ...(opts.tlskey ? { key: opts.tlskey } : {}),
    };
  }
  const dockerStyle = (dir: string): PemFiles | undefined =>
    existsSync(join(dir, 'ca.pem'))
      ? { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
      : undefined;
  const env = process.env.SKIFF_CERT_PATH;
  if (env) return dockerStyle(env);
  const home = dockerStyle(join(homedir(), '.skiff'));
  if (home) return home;
  const own = join(daemonPaths().stateDir, 'certs');
  if (existsSync(join(own, 'node.crt')) && existsSync(join(own, 'node.key')))
    return { ca: join(own, 'ca.crt'), cert: join(own, 'node.crt'), key: join(own, 'node.key') };
  return undefined;
}

/** Runs `fn` with a client and closes it afterwards. */
export async function withClient<T>(opts: GlobalOptions, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const client = clientFor(opts);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
