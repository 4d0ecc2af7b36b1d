import { describe, expect, it } from 'vitest';
import { familiarReference, formatReference, parseReference } from '../../../agent/image/index.js';

describe('parseReference', () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['myorg/app', 'docker.io', 'myorg/app', 'latest', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['index.docker.io/library/busybox:x', 'docker.io', 'library/busybox', 'x', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/a/b:v1', 'localhost:5000', 'a/b', 'v1', undefined],
    ['127.0.0.1:41234/app:v2', '127.0.0.1:41234', 'app', 'v2', undefined],
    ['quay.io/coreos/etcd', 'quay.io', 'coreos/etcd', 'latest', undefined],
    ['Registry/app', 'Registry', 'app', 'latest', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined],
    ['a__b/c-d.e_f', 'docker.io', 'a__b/c-d.e_f', 'latest', undefined],
  ];
  it.each(cases)('%s', (ref, registry, repository, tag, digest) => {
    expect(parseReference(ref)).toEqual({ registry, repository, tag, digest });
  });

  it('keeps a digest and has no default tag with one', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`busybox@${d}`)).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: undefined,
      digest: d,
    });
    expect(parseReference(`host:5000/x:v1@${d}`)).toMatchObject({
      registry: 'host:5000',
      tag: 'v1',
      digest: d,
    });
  });

  it.each([
    '',
    ' busybox',
    'Busybox',
    'busybox:',
    'busybox:bad tag',
    'busybox@sha256:abc',
    'busybox@sha256:' + 'A'.repeat(64),
    'a//b',
    'a/-b',
    'a'.repeat(64).replace(/a/g, 'f'),
    ':tag',
    'x'.repeat(300),
  ])('refuses %j with invalid_argument', (ref) => {
    expect(() => parseReference(ref)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('says why a name is refused', () => {
    expect(() => parseReference('Busybox')).toThrow(/lower-case/);
    expect(() => parseReference(`${'f'.repeat(64)}`)).toThrow(/image ID/);
  });

  it('formats full and familiar forms', () => {
    expect(formatReference(parseReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(familiarReference(parseReference('busybox'))).toBe('busybox:latest');
    expect(familiarReference(parseReference('myorg/app:v2'))).toBe('myorg/app:v2');
    expect(familiarReference(parseReference('localhost:5000/app:v1'))).toBe('localhost:5000/app:v1');
  });
});
