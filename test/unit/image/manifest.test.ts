import { describe, expect, it } from 'vitest';
import {
  chainIds,
  hostPlatform,
  type ImageIndex,
  MediaType,
  parseImageConfig,
  parseManifest,
  parsePlatform,
  selectManifest,
  sha256,
} from '../../../agent/image/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function index(platforms: (string | undefined)[]): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: platforms.map((p, i) => ({
      mediaType: MediaType.ociManifest,
      digest: d(String(i)),
      size: 100,
      ...(p ? { platform: parsePlatform(p) } : {}),
    })),
  };
}

describe('selectManifest', () => {
  it('picks the matching os/arch among three', () => {
    const idx = index(['linux/arm64/v8', 'linux/amd64', 'linux/arm/v7']);
    expect(selectManifest(idx, { os: 'linux', architecture: 'amd64' }, 'x').digest).toBe(d('1'));
    expect(selectManifest(idx, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x').digest).toBe(
      d('0'),
    );
    expect(selectManifest(idx, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest).toBe(d('2'));
  });

  it('treats a missing arm64 variant as v8 and prefers the exact arm variant', () => {
    expect(
      selectManifest(index(['linux/arm64']), { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x')
        .digest,
    ).toBe(d('0'));
    const arm = index(['linux/arm/v6', 'linux/arm/v7']);
    expect(selectManifest(arm, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest).toBe(d('1'));
    expect(
      selectManifest(index(['linux/arm/v6']), { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x')
        .digest,
    ).toBe(d('0'));
    expect(() =>
      selectManifest(index(['linux/arm/v7']), { os: 'linux', architecture: 'arm', variant: 'v6' }, 'x'),
    ).toThrow(/no image for platform linux\/arm\/v6/);
  });

  it('names what the index has when nothing matches', () => {
    expect(() => selectManifest(index(['linux/s390x', undefined]), hostPlatform('x64'), 'reg/app:1')).toThrow(
      'no image for platform linux/amd64 in reg/app:1 (it has: linux/s390x, unknown)',
    );
  });

  it('maps node architectures to OCI ones', () => {
    expect(hostPlatform('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(hostPlatform('arm', '6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
  });
});

describe('parseManifest', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: d('c'), size: 10 },
    layers: [{ mediaType: MediaType.dockerLayerGzip, digest: d('a'), size: 5 }],
  };

  it('reads Docker schema2 and OCI manifests and indexes', () => {
    const m = parseManifest(Buffer.from(JSON.stringify(manifest)), MediaType.dockerManifest, 'x');
    expect(m.kind).toBe('manifest');
    const i = parseManifest(Buffer.from(JSON.stringify(index(['linux/amd64']))), 'application/json', 'x');
    expect(i).toMatchObject({ kind: 'index', mediaType: MediaType.ociIndex });
    const list = parseManifest(
      Buffer.from(JSON.stringify({ ...index([]), mediaType: MediaType.dockerList })),
      undefined,
      'x',
    );
    expect(list.mediaType).toBe(MediaType.dockerList);
  });

  it('refuses schema1 with a clear error', () => {
    const s1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] }));
    expect(() => parseManifest(s1, MediaType.dockerSchema1Signed, 'reg/old:1')).toThrow(
      'schema1 manifests are not supported: reg/old:1',
    );
    expect(() => parseManifest(s1, 'application/json', 'reg/old:1')).toThrow(/schema1/);
  });

  it('refuses malformed documents naming the field', () => {
    expect(() => parseManifest(Buffer.from('{'), undefined, 'x')).toThrow(/not JSON/);
    const bad = { ...manifest, layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] };
    expect(() => parseManifest(Buffer.from(JSON.stringify(bad)), MediaType.dockerManifest, 'x')).toThrow(
      /layers\.0\.digest/,
    );
    expect(() => parseManifest(Buffer.from('{}'), 'application/vnd.foo', 'x')).toThrow(
      /unsupported manifest media type/,
    );
  });

  it('validates image configs', () => {
    const cfg = {
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'], Env: null },
      rootfs: { type: 'layers', diff_ids: [d('1')] },
    };
    expect(parseImageConfig(Buffer.from(JSON.stringify(cfg)), 'c').config?.Cmd).toEqual(['sh']);
    expect(() => parseImageConfig(Buffer.from('{"os":"linux"}'), d('c'))).toThrow(/invalid image config/);
  });
});

describe('chainIds', () => {
  it('follows the OCI definition', () => {
    const a = d('a');
    const b = d('b');
    const c = d('c');
    const ab = sha256(`${a} ${b}`);
    expect(chainIds([a, b, c])).toEqual([a, ab, sha256(`${ab} ${c}`)]);
    expect(chainIds([])).toEqual([]);
  });
});
