// Registry credentials as docker keeps them in config.json (`auths.<host>.auth` is base64
// of `user:password`) and as it sends them to the engine (the X-Registry-Auth header,
// base64url of a JSON AuthConfig). Pure: the CLI and the agent each read and write
// their own file.
import { SkiffError } from './errors.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The parts of docker's config.json read here; the rest is kept as it is. */
export type DockerConfig = {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
} & Record<string, unknown>;

const DOCKER_HUB = 'docker.io';

/** Keys docker uses in `auths` for a registry (Docker Hub's is its v1 index URL). */
function authKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) {
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

export function parseDockerConfig(text: string, path: string): DockerConfig {
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as DockerConfig;
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

/** The credentials config.json holds for `registry`, if any. */
export function credentialsFor(doc: DockerConfig, registry: string): RegistryCredentials | undefined {
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

/** config.json with `creds` stored for `registry`, everything else kept. */
export function withCredentials(
  doc: DockerConfig,
  registry: string,
  creds: RegistryCredentials,
): DockerConfig {
  const key = registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
  const auth = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
  return { ...doc, auths: { ...(doc.auths ?? {}), [key]: { auth } } };
}

/** The X-Registry-Auth header value docker sends for `creds`. */
export function encodeRegistryAuth(creds: RegistryCredentials, registry: string): string {
  return Buffer.from(
    JSON.stringify({ username: creds.username, password: creds.password, serveraddress: registry }),
  ).toString('base64url');
}

/** Credentials from an X-Registry-Auth header; undefined when absent or empty (anonymous). */
export function decodeRegistryAuth(header: string | undefined): RegistryCredentials | undefined {
  if (!header) return undefined;
  let doc: { username?: unknown; password?: unknown };
  try {
    doc = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as typeof doc;
  } catch {
    throw new SkiffError('invalid_argument', 'X-Registry-Auth is not base64url-encoded JSON');
  }
  if (typeof doc.username !== 'string' || typeof doc.password !== 'string' || doc.username === '')
    return undefined;
  return { username: doc.username, password: doc.password };
}
