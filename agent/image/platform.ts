// Platform matching for image indexes: the node's os/architecture/variant in OCI terms,
// and the choice of one manifest from an index (exact variant first, then compatible).
import { SkiffError } from '../../lib/index.js';
import type { Descriptor, ImageIndex, Platform } from './manifest.js';

/** The OCI platform of this process's host (Node's arch names mapped to GOARCH names). */
export function hostPlatform(arch: string = process.arch, armVersion?: string): Platform {
  switch (arch) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: `v${armVersion ?? '7'}` };
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    default:
      return { os: 'linux', architecture: arch };
  }
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split('/');
  if (!os || !architecture || extra !== undefined || variant === '') {
    throw new SkiffError(
      'invalid_argument',
      `invalid platform '${s}': expected os/arch[/variant], e.g. linux/arm64`,
    );
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

// The variant a manifest without one is assumed to be built for (containerd does the same).
function defaultVariant(architecture: string): string | undefined {
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/** Variants the wanted one can run, best first: an armv7 host also runs v6 and v5 images. */
function compatibleVariants(p: Platform): (string | undefined)[] {
  const wanted = p.variant ?? defaultVariant(p.architecture);
  if (p.architecture === 'arm' && wanted) {
    const n = Number(wanted.slice(1));
    const out: string[] = [];
    for (let v = n; v >= 5; v--) out.push(`v${v}`);
    return out;
  }
  return [wanted];
}

/** Picks the manifest for `want` from an index; throws not_found listing what the index has. */
export function selectManifest(index: ImageIndex, want: Platform, ref: string): Descriptor {
  const candidates = index.manifests.filter(
    (m) =>
      m.platform !== undefined &&
      m.platform.os === want.os &&
      m.platform.architecture === want.architecture &&
      // attestation manifests (buildkit) carry platform unknown/unknown; they never match.
      m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
  );
  for (const variant of compatibleVariants(want)) {
    const exact = candidates.find(
      (m) => (m.platform?.variant ?? defaultVariant(m.platform!.architecture)) === variant,
    );
    if (exact) return exact;
  }
  const available = index.manifests
    .map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown'))
    .filter((p) => p !== 'unknown/unknown')
    .join(', ');
  throw new SkiffError(
    'not_found',
    `no image for platform ${formatPlatform(want)} in ${ref} (it has: ${available || 'none'})`,
  );
}
