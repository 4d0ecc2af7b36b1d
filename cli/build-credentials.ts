// A compose service's build secrets and ssh keys, read on the CLI's side as docker
// compose reads them (a secret from its file or environment variable, an ssh key from
// its file, the agent from SSH_AUTH_SOCK) and sent to the node in the build request's
// body (lib/build-protocol.ts), never as build args.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { ComposeProject } from '../compose/index.js';
import { BUILD_SECRET_ID, type BuildCredentials, SkiffError } from '../lib/index.js';

type Build = NonNullable<ComposeProject['services'][string]['build']>;

/** The credentials of one service's build, or undefined when it names none. */
export function buildCredentials(
  service: string,
  build: Build,
  project: Pick<ComposeProject, 'secrets' | 'environment' | 'workingDir'>,
  localNode: boolean,
  env: NodeJS.ProcessEnv = process.env,
): BuildCredentials | undefined {
  const secretsOut: NonNullable<BuildCredentials['secrets']> = [];
  const sshOut: NonNullable<BuildCredentials['ssh']> = [];
  const secrets = Array.isArray(build.secrets) ? (build.secrets as unknown[]) : [];
  for (const ref of secrets) {
    const source = typeof ref === 'string' ? ref : String((ref as { source?: unknown }).source ?? '');
    const target = typeof ref === 'object' && ref !== null ? (ref as { target?: unknown }).target : undefined;
    const id = typeof target === 'string' && target !== '' ? target : source;
    checkId(service, 'secret', id);
    const def = project.secrets[source];
    if (!def)
      throw new SkiffError(
        'invalid_argument',
        `service "${service}": build secret "${source}" is not declared`,
      );
    let data: Buffer;
    if (def.file !== undefined) {
      try {
        data = readFileSync(def.file);
      } catch (e) {
        throw new SkiffError(
          'invalid_argument',
          `service "${service}": cannot read build secret "${source}" from ${def.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    } else if (def.environment !== undefined) {
      const v = project.environment[def.environment] ?? env[def.environment];
      if (v === undefined)
        throw new SkiffError(
          'invalid_argument',
          `service "${service}": build secret "${source}" reads the variable ${def.environment}, which is not set`,
          { hint: `set ${def.environment} in the environment or in .env` },
        );
      data = Buffer.from(v);
    } else {
      throw new SkiffError(
        'unsupported',
        `service "${service}": build secret "${source}" is external; a build reads a secret from a file or an environment variable`,
        { hint: 'give it file: or environment: under the top-level secrets' },
      );
    }
    secretsOut.push({ id, data: data.toString('base64') });
  }
  const ssh = build.ssh;
  const entries: [string, string | null][] = Array.isArray(ssh)
    ? (ssh as string[]).map((s) => {
        const i = s.indexOf('=');
        return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
      })
    : typeof ssh === 'object' && ssh !== null
      ? Object.entries(ssh as Record<string, string | null>)
      : [];
  for (const [id, path] of entries) {
    checkId(service, 'ssh', id);
    if (path === null || path === '') {
      if (id !== 'default')
        throw new SkiffError('invalid_argument', `service "${service}": build.ssh "${id}" names no path`, {
          hint: 'write default (the ssh-agent of SSH_AUTH_SOCK) or ID=path',
        });
      const sock = env.SSH_AUTH_SOCK;
      if (!sock)
        throw new SkiffError(
          'invalid_argument',
          `service "${service}": build.ssh default needs an ssh-agent, and SSH_AUTH_SOCK is not set`,
        );
      sshOut.push(agent(service, id, sock, localNode));
      continue;
    }
    const file = expand(path, project.workingDir, env);
    let isSocket: boolean;
    try {
      isSocket = statSync(file).isSocket();
    } catch (e) {
      throw new SkiffError(
        'invalid_argument',
        `service "${service}": cannot read build.ssh "${id}" at ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (isSocket) sshOut.push(agent(service, id, file, localNode));
    else sshOut.push({ id, key: readFileSync(file).toString('base64') });
  }
  if (secretsOut.length === 0 && sshOut.length === 0) return undefined;
  return { ...(secretsOut.length ? { secrets: secretsOut } : {}), ...(sshOut.length ? { ssh: sshOut } : {}) };
}

/**
 * An agent socket can be handed only to a node on this machine: a remote node cannot
 * reach it, and skiff has no session channel to forward the agent over (BuildKit's).
 */
function agent(
  service: string,
  id: string,
  socket: string,
  localNode: boolean,
): { id: string; socket: string } {
  if (!localNode)
    throw new SkiffError(
      'unsupported',
      `service "${service}": build.ssh "${id}" is an ssh-agent socket, which only a node on this machine can use`,
      {
        hint: `name a private key file instead (${id}=~/.ssh/id_ed25519): skiff sends its content with the build`,
      },
    );
  return { id, socket: resolve(socket) };
}

function checkId(service: string, what: string, id: string): void {
  if (!BUILD_SECRET_ID.test(id))
    throw new SkiffError('invalid_argument', `service "${service}": build ${what} id "${id}" is not valid`, {
      hint: 'use letters, digits, ".", "_" and "-"',
    });
}

function expand(path: string, dir: string, env: NodeJS.ProcessEnv): string {
  const p = path === '~' || path.startsWith('~/') ? join(env.HOME ?? homedir(), path.slice(1)) : path;
  return isAbsolute(p) ? p : resolve(dir, p);
}
