// Image references parsed the way docker parses them: `busybox` is
// `docker.io/library/busybox:latest`; the first path component is a registry host only
// when it has a `.` or a `:` (a port), is `localhost`, or has upper-case letters.
import { SkiffError } from '../../lib/index.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';

export interface ImageReference {
  /** Registry host as written in the reference (`docker.io`, `127.0.0.1:5000`, `localhost`). */
  registry: string;
  /** Repository path inside the registry (`library/busybox`). */
  repository: string;
  /** Tag, `latest` when neither tag nor digest was given. */
  tag: string | undefined;
  /** `sha256:…` when the reference pins a digest. */
  digest: string | undefined;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const MAX_NAME = 255;

function invalid(ref: string, why: string): SkiffError {
  return new SkiffError('invalid_argument', `invalid image reference '${ref}': ${why}`, {
    hint: 'references look like [registry[:port]/]name[:tag][@sha256:digest], e.g. busybox:1.36',
  });
}

/** Parses a reference; throws SkiffError invalid_argument with the reason. */
export function parseReference(ref: string): ImageReference {
  if (ref === '' || ref !== ref.trim()) throw invalid(ref, 'it is empty or has surrounding spaces');
  if (/^[a-f0-9]{64}$/.test(ref)) throw invalid(ref, 'a 64-character hex string is an image ID, not a name');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `'${digest}' is not a digest (algorithm:hex)`);
    if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) {
      throw invalid(ref, 'a sha256 digest has 64 lower-case hex characters');
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `'${tag}' is not a valid tag`);
  }
  if (rest === '') throw invalid(ref, 'the name is missing');

  let registry = DEFAULT_REGISTRY;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      registry = first;
      path = rest.slice(slash + 1);
      if (!HOST.test(registry)) throw invalid(ref, `'${registry}' is not a valid registry host`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        ref,
        component !== component.toLowerCase()
          ? 'repository names must be lower-case'
          : `'${component}' is not a valid path component`,
      );
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME) throw invalid(ref, `the name is longer than ${MAX_NAME}`);
  return { registry, repository: path, tag: tag ?? (digest ? undefined : DEFAULT_TAG), digest };
}

/** `registry/repository` (`docker.io/library/busybox`). */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The fully qualified form: `docker.io/library/busybox:latest`, `host/x@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  let s = repositoryName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The short form people type: `busybox:latest`, `myorg/app:v2`, `host:5000/app:v1`. */
export function familiarReference(ref: ImageReference): string {
  let name = repositoryName(ref);
  if (ref.registry === DEFAULT_REGISTRY) {
    name = ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
  }
  let s = name;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** Normalizes a reference to its fully qualified form (`busybox` → `docker.io/library/busybox:latest`). */
export function normalizeReference(ref: string): string {
  return formatReference(parseReference(ref));
}

/** The host to send HTTP requests to: Docker Hub's API lives on registry-1.docker.io. */
export function registryEndpointHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? 'registry-1.docker.io' : registry;
}

export function isDigest(s: string): boolean {
  return SHA256_DIGEST.test(s);
}
