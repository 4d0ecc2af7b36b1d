// The CLI's registry credentials: docker's config.json ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json, or --auth-file), written by `skiff login` and read for the
// X-Registry-Auth header of a push, as docker's CLI keeps them on the client side.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileDurable } from '../disk/index.js';
import {
  credentialsFor,
  type DockerConfig,
  parseDockerConfig,
  type RegistryCredentials,
  withCredentials,
} from '../lib/index.js';

export function defaultAuthFile(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** The registry an image name points to, as credentials are kept under it. */
export function registryOf(name: string): string {
  const first = name.split('/')[0] ?? '';
  const isHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? canonicalRegistry(first) : 'docker.io';
}

/** Docker Hub goes by several names; credentials are kept under one. */
export function canonicalRegistry(host: string): string {
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io'].includes(host) ? 'docker.io' : host;
}

async function read(file: string): Promise<DockerConfig> {
  try {
    return parseDockerConfig(await readFile(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
}

export async function readCredentials(
  file: string,
  registry: string,
): Promise<RegistryCredentials | undefined> {
  return credentialsFor(await read(file), registry);
}

/** Stores credentials (mode 0600), keeping the file's other content. */
export async function storeCredentials(
  file: string,
  registry: string,
  creds: RegistryCredentials,
): Promise<void> {
  const doc = withCredentials(await read(file), registry, creds);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileDurable(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}
