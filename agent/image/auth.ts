// Registry authentication: WWW-Authenticate challenges (RFC 7235, as registries send
// them), and credentials in the ~/.docker/config.json format (`auths.<host>.auth` is
// base64 of `user:password`).
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import {
  credentialsFor,
  type DockerConfig,
  parseDockerConfig,
  type RegistryCredentials,
  withCredentials,
} from '../../lib/index.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export type Credentials = RegistryCredentials;

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

async function readAuthFile(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  return parseDockerConfig(text, path);
}

/** Credentials for a registry from the auth file, if any. */
export async function lookupCredentials(
  authFile: string,
  registry: string,
): Promise<Credentials | undefined> {
  return credentialsFor(await readAuthFile(authFile), registry);
}

/** Stores credentials in the auth file (mode 0600), keeping its other content. */
export async function storeCredentials(
  authFile: string,
  registry: string,
  creds: Credentials,
): Promise<void> {
  const doc = withCredentials(await readAuthFile(authFile), registry, creds);
  await mkdir(dirname(authFile), { recursive: true, mode: 0o700 });
  await writeFileDurable(authFile, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

export function basicAuthHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
