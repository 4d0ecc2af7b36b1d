// Distribution operations on top of the registry client: resolve a reference to a
// manifest, open a blob (from an offset, for resumed downloads), check and upload blobs,
// put manifests. Maps registry answers to SkiffErrors people can act on.
import type { Readable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';
import { MANIFEST_ACCEPT } from './manifest.js';
import { formatReference, type ImageReference } from './reference.js';
import {
  type RegistryClient,
  type RequestSpec,
  type Response,
  registryErrorText,
  responseHeader,
} from './registry-client.js';

/** Largest manifest or index accepted (the distribution spec suggests registries cap at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string | undefined;
  /** What the registry says the digest is (Docker-Content-Digest), if it says. */
  digest: string | undefined;
}

export interface BlobStream {
  body: Readable;
  /** Offset the body starts at: the one asked for when the registry honoured Range, else 0. */
  offset: number;
}

/**
 * Where a pull reads manifests and blobs from: a registry (Distribution) or other nodes
 * of the cluster (PeerSource). What it answers is checked against digests either way.
 */
export interface ContentSource {
  getManifest(ref: ImageReference, reference: string): Promise<FetchedManifest>;
  openBlob(ref: ImageReference, digest: string, offset?: number): Promise<BlobStream>;
}

export class Distribution implements ContentSource {
  constructor(readonly client: RegistryClient) {}

  private async pullRequest(
    ref: ImageReference,
    spec: Omit<RequestSpec, 'repository' | 'actions'>,
    what: string,
  ): Promise<Response> {
    const endpoints = this.client.endpoints(ref.registry, 'pull');
    let lastError: unknown;
    for (const [i, ep] of endpoints.entries()) {
      const isLast = i === endpoints.length - 1;
      try {
        const res = await this.client.request(ep, { ...spec, repository: ref.repository, actions: ['pull'] });
        // A mirror without the content (or broken) falls through to the next endpoint.
        if (
          !isLast &&
          (res.status === 404 || res.status >= 500 || res.status === 401 || res.status === 403)
        ) {
          await res.body.dump();
          continue;
        }
        await this.throwForStatus(res, ref, what);
        return res;
      } catch (e) {
        if (isLast) throw e;
        lastError = e;
      }
    }
    throw lastError;
  }

  private async throwForStatus(res: Response, ref: ImageReference, what: string): Promise<void> {
    if (res.status >= 200 && res.status < 300) return;
    const detail = await registryErrorText(res);
    const name = formatReference(ref);
    if (res.status === 401) {
      throw new SkiffError(
        'unauthorized',
        `authentication required for ${ref.registry}: run \`skiff login ${ref.registry}\``,
        {
          hint: `the registry refused the request for ${name} (${detail}); log in or check the credentials`,
        },
      );
    }
    if (res.status === 403) {
      throw new SkiffError('forbidden', `access to ${ref.repository} on ${ref.registry} denied: ${detail}`);
    }
    if (res.status === 404) {
      if (what === 'manifest') {
        throw new SkiffError('not_found', `manifest unknown: ${name}`, {
          hint: 'check the image name and tag (and that it was pushed to this registry)',
        });
      }
      throw new SkiffError('not_found', `${what} unknown in ${ref.registry}/${ref.repository}: ${detail}`);
    }
    if (res.status === 429)
      throw new SkiffError('unavailable', `registry ${ref.registry} is rate limiting: ${detail}`);
    throw new SkiffError(
      'unavailable',
      `registry ${ref.registry} answered ${res.status} for ${what} of ${name}: ${detail}`,
    );
  }

  /** GETs a manifest or index by tag or digest. */
  async getManifest(ref: ImageReference, reference: string): Promise<FetchedManifest> {
    const res = await this.pullRequest(
      ref,
      {
        method: 'GET',
        path: `/v2/${ref.repository}/manifests/${reference}`,
        headers: { accept: MANIFEST_ACCEPT.join(', ') },
      },
      'manifest',
    );
    const declared = Number(responseHeader(res, 'content-length') ?? '0');
    if (declared > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new SkiffError(
        'corrupt',
        `manifest of ${formatReference(ref)} is ${declared} bytes, over the ${MAX_MANIFEST_BYTES} limit`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw new SkiffError(
          'corrupt',
          `manifest of ${formatReference(ref)} is over the ${MAX_MANIFEST_BYTES} byte limit`,
        );
      }
      chunks.push(chunk);
    }
    return {
      bytes: Buffer.concat(chunks),
      contentType: responseHeader(res, 'content-type'),
      digest: responseHeader(res, 'docker-content-digest'),
    };
  }

  /** Opens a blob for reading from `offset` (Range); the caller consumes or destroys the body. */
  async openBlob(ref: ImageReference, digest: string, offset = 0): Promise<BlobStream> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.pullRequest(
      ref,
      { method: 'GET', path: `/v2/${ref.repository}/blobs/${digest}`, headers },
      `blob ${digest}`,
    );
    return { body: res.body, offset: res.status === 206 ? offset : 0 };
  }

  private pushEndpoint(ref: ImageReference) {
    return this.client.endpoints(ref.registry, 'push').at(-1)!;
  }

  private async pushRequest(
    ref: ImageReference,
    spec: Omit<RequestSpec, 'repository' | 'actions'>,
    what: string,
  ) {
    const res = await this.client.request(this.pushEndpoint(ref), {
      ...spec,
      repository: ref.repository,
      actions: ['pull', 'push'],
    });
    await this.throwForStatus(res, ref, what);
    return res;
  }

  async blobExists(ref: ImageReference, digest: string): Promise<boolean> {
    const res = await this.client.request(this.pushEndpoint(ref), {
      method: 'HEAD',
      path: `/v2/${ref.repository}/blobs/${digest}`,
      repository: ref.repository,
      actions: ['pull', 'push'],
    });
    await res.body.dump();
    if (res.status === 404) return false;
    if (res.status === 200) return true;
    await this.throwForStatus(res, ref, `blob ${digest}`);
    return false;
  }

  /** Uploads a blob: POST to open an upload session, then one PUT with the whole body. */
  async uploadBlob(ref: ImageReference, digest: string, size: number, open: () => Readable): Promise<void> {
    const start = await this.pushRequest(
      ref,
      { method: 'POST', path: `/v2/${ref.repository}/blobs/uploads/` },
      'upload',
    );
    await start.body.dump();
    const location = responseHeader(start, 'location');
    if (!location)
      throw new SkiffError('unavailable', `registry ${ref.registry} opened an upload without a Location`);
    const url = new URL(location, start.url);
    url.searchParams.set('digest', digest);
    const res = await this.pushRequest(
      ref,
      {
        method: 'PUT',
        path: url.toString(),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: open,
      },
      `blob ${digest}`,
    );
    await res.body.dump();
  }

  async putManifest(
    ref: ImageReference,
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<string | undefined> {
    const res = await this.pushRequest(
      ref,
      {
        method: 'PUT',
        path: `/v2/${ref.repository}/manifests/${reference}`,
        headers: { 'content-type': mediaType },
        body: bytes,
      },
      'manifest',
    );
    await res.body.dump();
    return responseHeader(res, 'docker-content-digest');
  }
}
