// Registry authentication: WWW-Authenticate challenges (RFC 7235, as registries send
// them), and credentials in the ~/.docker/config.json format (`auths.<host>.auth` is
// base64 of `user:password`).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SkiffError } from '../../lib/index.js';
import { DEFAULT_REGISTRY } from './reference.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Parses a WWW-Authenticate header value; unknown schemes are left out. */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let i = 0;
  const skip = (chars: string) => {
    while (i < header.length && chars.includes(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && !' \t,="'.includes(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(' \t,');
    const word = token();
    if (word === '') break;
    skip(' \t');
    if (header[i] === '=' && current) {
      i++;
      skip(' \t');
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        value = token();
      }
      current.params[word.toLowerCase()] = value;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      if (current.scheme === 'basic' || current.scheme === 'bearer') out.push(current as Challenge);
    }
  }
  return out;
}

/** The default auth file: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultAuthFile(): string {
  const dir = process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/** Keys docker uses in `auths` for a registry (Docker Hub's is its v1 index URL). */
function authKeys(registry: string): string[] {
  if (registry === DEFAULT_REGISTRY) {
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  }
  return [
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/v1/`,
    `https://${registry}/v2/`,
  ];
}

function authKey(registry: string): string {
  return registry === DEFAULT_REGISTRY ? 'https://index.docker.io/v1/' : registry;
}

type AuthFileDoc = {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
} & Record<string, unknown>;

async function readAuthFile(path: string): Promise<AuthFileDoc> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as AuthFileDoc;
  } catch (e) {
    throw new SkiffError(
      'invalid_argument',
      `cannot read credentials from ${path}: ${(e as Error).message}`,
      {
        hint: 'fix or remove the file, then run `skiff login <registry>` again',
      },
    );
  }
}

/** Credentials for a registry from the auth file, if any. */
export async function lookupCredentials(
  authFile: string,
  registry: string,
): Promise<Credentials | undefined> {
  const doc = await readAuthFile(authFile);
  for (const key of authKeys(registry)) {
    const entry = doc.auths?.[key];
    if (!entry) continue;
    if (entry.username !== undefined && entry.password !== undefined) {
      return { username: entry.username, password: entry.password };
    }
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

/** Stores credentials in the auth file (mode 0600), keeping its other content. */
export async function storeCredentials(
  authFile: string,
  registry: string,
  creds: Credentials,
): Promise<void> {
  const doc = await readAuthFile(authFile);
  const auths = { ...(doc.auths ?? {}) };
  auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await mkdir(dirname(authFile), { recursive: true, mode: 0o700 });
  const tmp = `${authFile}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ ...doc, auths }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, authFile);
}

export function basicAuthHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
