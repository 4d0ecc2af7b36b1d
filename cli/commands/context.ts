// `skiff context create|ls|use|rm|inspect|show`: switch between clusters as `docker
// context` does. A context names a manager's address and the client certificates to
// reach it (cli/context-store.ts); `--context` or SKIFF_CONTEXT picks one for a
// command, `use` for every command after it.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SkiffError } from '../../lib/index.js';
import { daemonPaths } from '../../node/index.js';
import type { GlobalOptions } from '../context.js';
import {
  type ContextFile,
  type ContextTls,
  checkContextName,
  contextFilePath,
  currentContextName,
  DEFAULT_CONTEXT,
  findContext,
  readContexts,
  type StoredContext,
  writeContexts,
} from '../context-store.js';
import { CliUsageError, printInspect, printList } from '../output.js';

/** The default context's endpoint: SKIFF_HOST, else the local node. */
function defaultContext(): StoredContext {
  const host = process.env.SKIFF_HOST;
  return host
    ? { Description: 'Current SKIFF_HOST based configuration', Host: host }
    : { Description: 'The local skiff node', Host: `unix://${daemonPaths().socket}` };
}

function contextNamed(name: string, f: ContextFile): StoredContext {
  return name === DEFAULT_CONTEXT ? defaultContext() : findContext(name, f);
}

/** docker's `--docker "host=…,ca=…,cert=…,key=…"`. */
export function parseEndpoint(spec: string, f: ContextFile): StoredContext {
  const fields: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new CliUsageError(`--docker: "${part}" is not KEY=VALUE (host=…, ca=…, cert=…, key=…)`);
    const k = part.slice(0, eq).trim();
    if (!['host', 'ca', 'cert', 'key', 'from', 'skip-tls-verify'].includes(k))
      throw new CliUsageError(`--docker: unknown key "${k}": use host, ca, cert, key or from`);
    fields[k] = part.slice(eq + 1).trim();
  }
  if (fields['skip-tls-verify'] !== undefined && fields['skip-tls-verify'] !== 'false')
    throw new SkiffError(
      'unsupported',
      'skip-tls-verify is not supported: skiff always checks the manager’s certificate',
      {
        hint: "give the cluster CA with ca=<file> (ca.crt in a manager's certs directory)",
      },
    );
  const base = fields.from !== undefined ? contextNamed(fields.from, f) : undefined;
  const host = fields.host ?? base?.Host;
  if (!host)
    throw new CliUsageError('--docker: give host=unix:///path or host=tcp://HOST:PORT (or from=CONTEXT)');
  if (!/^(unix|tcp):\/\/./.test(host))
    throw new CliUsageError(`--docker: host "${host}" is not unix:///path or tcp://HOST:PORT`);
  if ((fields.cert === undefined) !== (fields.key === undefined))
    throw new CliUsageError('--docker: cert and key go together');
  if ((fields.cert !== undefined || fields.key !== undefined) && fields.ca === undefined)
    throw new CliUsageError("--docker: cert and key need ca (the cluster CA's certificate)");
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new SkiffError('invalid_argument', `cannot read the ${what} ${path}: ${(e as Error).message}`, {
        hint: 'check the path and its permissions',
      });
    }
  };
  const tls: ContextTls | undefined =
    fields.ca !== undefined
      ? {
          ca: read('CA certificate', fields.ca),
          ...(fields.cert ? { cert: read('client certificate', fields.cert) } : {}),
          ...(fields.key ? { key: read('client key', fields.key) } : {}),
        }
      : base?.TLS;
  return { Host: host, ...(tls && host.startsWith('tcp://') ? { TLS: tls } : {}) };
}

/** docker's `context inspect` shape. */
function inspectView(name: string, c: StoredContext) {
  const stored = name !== DEFAULT_CONTEXT;
  const path = stored ? contextFilePath() : '<IN MEMORY>';
  return {
    Name: name,
    Metadata: c.Description ? { Description: c.Description } : {},
    Endpoints: { docker: { Host: c.Host, SkipTLSVerify: false } },
    TLSMaterial: c.TLS
      ? {
          docker: ['ca.pem', ...(c.TLS.cert ? ['cert.pem'] : []), ...(c.TLS.key ? ['key.pem'] : [])],
        }
      : {},
    Storage: { MetadataPath: path, TLSPath: path },
  };
}

export function registerContext(program: Command): void {
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  const context = program.command('context').description('manage contexts: named clusters to switch between');

  context
    .command('create')
    .description('create a context (from the current one unless --docker or --from says otherwise)')
    .argument('<name>')
    .option('--description <text>', 'description of the context')
    .option(
      '--docker <endpoint>',
      'endpoint: host=unix:///path|tcp://HOST:PORT[,ca=FILE,cert=FILE,key=FILE][,from=CONTEXT]',
    )
    .option('--from <context>', 'copy the endpoint of this context')
    .action((name: string, o: { description?: string; docker?: string; from?: string }) => {
      checkContextName(name);
      const f = readContexts();
      if (Object.hasOwn(f.contexts, name))
        throw new SkiffError('already_exists', `context "${name}" already exists`, {
          hint: `remove it first with skiff context rm ${name}, or pick another name`,
        });
      if (o.docker && o.from) throw new CliUsageError('give --docker or --from, not both');
      const source = o.from ?? currentContextName(g(), () => f);
      const endpoint = o.docker ? parseEndpoint(o.docker, f) : { ...contextNamed(source, f) };
      // --from and the implicit copy take the endpoint, not the description.
      const { Description: _copied, ...rest } = endpoint;
      f.contexts[name] = { ...(o.description ? { Description: o.description } : {}), ...rest };
      writeContexts(f);
      process.stdout.write(`${name}\n`);
      process.stderr.write(`Successfully created context "${name}"\n`);
    });

  context
    .command('ls')
    .alias('list')
    .description('list contexts; * marks the current one')
    .option('-q, --quiet', 'only print context names')
    .option('--format <format>', 'table, json or a Go template')
    .action((o: { quiet?: boolean; format?: string }) => {
      const f = readContexts();
      const current = currentContextName(g(), () => f);
      const all: [string, StoredContext][] = [
        [DEFAULT_CONTEXT, defaultContext()],
        ...Object.entries(f.contexts).sort(([a], [b]) => a.localeCompare(b)),
      ];
      if (o.quiet) return void process.stdout.write(all.map(([n]) => `${n}\n`).join(''));
      const objects = all.map(([name, c]) => ({
        Name: name,
        Description: c.Description ?? '',
        DockerEndpoint: c.Host,
        Current: name === current,
        Error: '',
      }));
      printList(
        o.format,
        [
          { header: 'NAME', field: 'Name' },
          { header: 'DESCRIPTION', field: 'Description' },
          { header: 'DOCKER ENDPOINT', field: 'DockerEndpoint' },
          { header: 'ERROR', field: 'Error' },
        ],
        objects.map((c) => [c.Current ? `${c.Name} *` : c.Name, c.Description, c.DockerEndpoint, c.Error]),
        objects,
      );
    });

  context
    .command('use')
    .description('make a context the current one for every later command')
    .argument('<name>')
    .action((name: string) => {
      const f = readContexts();
      if (name !== DEFAULT_CONTEXT) findContext(name, f);
      if (name === DEFAULT_CONTEXT) delete f.current;
      else f.current = name;
      writeContexts(f);
      process.stdout.write(`${name}\n`);
      process.stderr.write(`Current context is now "${name}"\n`);
      if (process.env.SKIFF_HOST)
        process.stderr.write('warning: SKIFF_HOST environment variable overrides the active context\n');
      else if (process.env.SKIFF_CONTEXT && process.env.SKIFF_CONTEXT !== name)
        process.stderr.write('warning: SKIFF_CONTEXT environment variable overrides the active context\n');
    });

  context
    .command('rm')
    .alias('remove')
    .description('remove contexts')
    .argument('<name...>')
    .option('-f, --force', 'remove the current context too (the default one becomes current)')
    .action((names: string[], o: { force?: boolean }) => {
      const f = readContexts();
      for (const name of names) {
        if (name === DEFAULT_CONTEXT)
          throw new SkiffError('invalid_argument', 'the default context cannot be removed', {
            hint: 'it is SKIFF_HOST or the local node',
          });
        findContext(name, f);
        if (f.current === name && !o.force)
          throw new SkiffError('invalid_argument', `context "${name}" is in use`, {
            hint: 'pass -f to remove it anyway (the default context becomes current), or skiff context use another first',
          });
      }
      for (const name of names) {
        delete f.contexts[name];
        if (f.current === name) delete f.current;
      }
      writeContexts(f);
      process.stdout.write(names.map((n) => `${n}\n`).join(''));
    });

  context
    .command('inspect')
    .description('show contexts in detail (JSON); the current one by default')
    .argument('[name...]')
    .option('-f, --format <format>', "json or a Go template ('{{.Endpoints.docker.Host}}')")
    .action((names: string[], o: { format?: string }) => {
      const f = readContexts();
      const list = names.length > 0 ? names : [currentContextName(g(), () => f)];
      printInspect(
        o.format,
        list.map((n) => inspectView(n, contextNamed(n, f))),
      );
    });

  context
    .command('show')
    .description('print the name of the current context')
    .action(() => {
      process.stdout.write(`${currentContextName(g())}\n`);
    });
}
