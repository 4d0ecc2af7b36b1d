// Registry documents: OCI image index / Docker manifest list, OCI image manifest /
// Docker schema2 manifest, and the image config. Validated here, at the edge, so the
// rest of the code works with typed values; schema1 is refused with a clear error.
import { z } from 'zod';
import { SkiffError } from '../../lib/index.js';

export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a pull accepts, most preferred first (sent as the Accept header). */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
] as const;

export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression a layer media type declares, or undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): Compression | undefined {
  switch (mediaType) {
    case MediaType.ociLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNondistributableGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayerGzip:
      return 'gzip';
    case MediaType.ociLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      return undefined;
  }
}

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a sha256 digest');

export const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
});
export type Platform = { os: string; architecture: string; variant?: string };

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof indexSchema>;

const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof manifestSchema>;

const healthcheckSchema = z
  .object({
    Test: z.array(z.string()).optional(),
    Interval: z.number().optional(),
    Timeout: z.number().optional(),
    StartPeriod: z.number().optional(),
    StartInterval: z.number().optional(),
    Retries: z.number().optional(),
  })
  .loose();

const nullableStrings = z.array(z.string()).nullable().optional();

export const imageConfigSchema = z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    config: z
      .object({
        User: z.string().optional(),
        ExposedPorts: z.record(z.string(), z.unknown()).nullable().optional(),
        Env: nullableStrings,
        Entrypoint: nullableStrings,
        Cmd: nullableStrings,
        Volumes: z.record(z.string(), z.unknown()).nullable().optional(),
        WorkingDir: z.string().optional(),
        Labels: z.record(z.string(), z.string()).nullable().optional(),
        StopSignal: z.string().optional(),
        Healthcheck: healthcheckSchema.optional(),
      })
      .loose()
      .optional(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digestSchema) }),
    history: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .loose();
/** The image configuration JSON (OCI image spec config.md, Docker-compatible field names). */
export type OciImageConfig = z.infer<typeof imageConfigSchema>;

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses a manifest or index as served for `ref`. The Content-Type header decides when it
 * names a known type; otherwise the document's own `mediaType` (or its shape) does.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, ref: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SkiffError('corrupt', `the registry sent a manifest for ${ref} that is not JSON`);
  }
  const obj = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const declared = typeof obj.mediaType === 'string' ? obj.mediaType : undefined;
  const ct = contentType?.split(';')[0]?.trim();
  const mediaType =
    ct && ct !== 'application/json' && ct !== 'text/plain' && ct !== 'application/octet-stream'
      ? ct
      : (declared ?? (Array.isArray(obj.manifests) ? MediaType.ociIndex : MediaType.ociManifest));
  if (
    mediaType === MediaType.dockerSchema1 ||
    mediaType === MediaType.dockerSchema1Signed ||
    obj.schemaVersion === 1
  ) {
    throw new SkiffError('unsupported', `schema1 manifests are not supported: ${ref}`, {
      hint: 'schema1 was deprecated in 2017; re-push the image with a current client (docker, skopeo, buildah)',
    });
  }
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList) {
    const parsed = indexSchema.safeParse(doc);
    if (!parsed.success) {
      throw new SkiffError('corrupt', `invalid image index for ${ref}: ${describeIssues(parsed.error)}`);
    }
    return { kind: 'index', mediaType, index: parsed.data };
  }
  if (mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest) {
    const parsed = manifestSchema.safeParse(doc);
    if (!parsed.success) {
      throw new SkiffError('corrupt', `invalid image manifest for ${ref}: ${describeIssues(parsed.error)}`);
    }
    return { kind: 'manifest', mediaType, manifest: parsed.data };
  }
  throw new SkiffError('unsupported', `unsupported manifest media type '${mediaType}' for ${ref}`, {
    hint: 'skiff pulls OCI and Docker schema2 images (and their indexes)',
  });
}

export function parseImageConfig(bytes: Buffer, digest: string): OciImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SkiffError('corrupt', `image config ${digest} is not JSON`);
  }
  const parsed = imageConfigSchema.safeParse(doc);
  if (!parsed.success) {
    throw new SkiffError('corrupt', `invalid image config ${digest}: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Checks that a manifest's layers and config agree and are layers skiff can unpack. */
export function checkManifestAgainstConfig(
  manifest: ImageManifest,
  config: OciImageConfig,
  ref: string,
): void {
  if (manifest.layers.length !== config.rootfs.diff_ids.length) {
    throw new SkiffError(
      'corrupt',
      `image ${ref} has ${manifest.layers.length} layers but its config lists ${config.rootfs.diff_ids.length} diff IDs`,
    );
  }
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new SkiffError(
        'unsupported',
        `layer ${layer.digest} of ${ref} has unsupported media type ${layer.mediaType}`,
      );
    }
  }
}
