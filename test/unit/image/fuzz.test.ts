// Property tests for the parsers that take registry and layer input: whatever the bytes,
// they either succeed with a well-formed result or fail with a SkiffError.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReference, parseManifest, parseReference } from '../../../agent/image/index.js';
import { checkSymlinkTarget, cleanEntryPath, readTar } from '../../../agent/snapshot/index.js';
import { SkiffError } from '../../../lib/index.js';
import { encodeTar } from '../../fixtures/index.js';

function onlySkiffErrors(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(SkiffError);
  }
}

// No dots: a first component with a dot names a registry host, as in docker.
const segment = fc.stringMatching(/^[a-z0-9]{1,8}(?:[_-][a-z0-9]{1,8})?$/);

describe('parser properties', () => {
  it('parseReference: any string parses or fails with a SkiffError; formatting is a fixed point', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        onlySkiffErrors(() => {
          const ref = parseReference(s);
          expect(parseReference(formatReference(ref))).toEqual(ref);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('parseReference: generated valid names round-trip', () => {
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom('localhost:5000', 'reg.example', '127.0.0.1:1234')),
        fc.array(segment, { minLength: 1, maxLength: 3 }),
        fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/)),
        (host, path, tag) => {
          const text = `${host ? `${host}/` : ''}${path.join('/')}${tag ? `:${tag}` : ''}`;
          const ref = parseReference(text);
          expect(ref.tag).toBe(tag ?? 'latest');
          expect(ref.repository.endsWith(path.join('/'))).toBe(true);
        },
      ),
    );
  });

  it('parseManifest: arbitrary JSON is accepted only as a typed document', () => {
    fc.assert(
      fc.property(
        fc.json(),
        fc.constantFrom(undefined, 'application/json', 'application/vnd.oci.image.manifest.v1+json'),
        (json, ct) => {
          onlySkiffErrors(() => parseManifest(Buffer.from(json), ct, 'x'));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('entry paths that pass the checks stay inside the rootfs', () => {
    const part = fc.constantFrom('a', 'b', '..', '.', '', 'etc', '.wh.x');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), fc.boolean(), (parts, absolute) => {
        const raw = (absolute ? '/' : '') + parts.join('/');
        onlySkiffErrors(() => {
          const clean = cleanEntryPath(raw, 'L');
          expect(clean.startsWith('/')).toBe(false);
          expect(clean.split('/')).not.toContain('..');
        });
      }),
    );
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.array(part, { maxLength: 8 }),
        (at, target) => {
          const path = at.filter((p) => p !== '' && p !== '.' && p !== '..').join('/') || 'x';
          const t = target.join('/');
          let depth = path.split('/').length - 1;
          let escapes = false;
          for (const p of t.split('/')) {
            if (p === '..') depth--;
            else if (p !== '' && p !== '.') depth++;
            if (depth < 0) escapes = true;
          }
          if (t.startsWith('/')) expect(() => checkSymlinkTarget(path, t, 'L')).not.toThrow();
          else if (t === '' || escapes) expect(() => checkSymlinkTarget(path, t, 'L')).toThrow(SkiffError);
          else expect(() => checkSymlinkTarget(path, t, 'L')).not.toThrow();
        },
      ),
    );
  });

  it('readTar: damaged archives fail with a SkiffError, never anything else', async () => {
    const good = encodeTar([
      { path: 'a/', type: 'dir' },
      { path: 'a/f', type: 'file', content: 'hello'.repeat(100) },
      { path: 'a/l', type: 'symlink', linkpath: 'f' },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(good.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(good.length),
        async (pos, byte, cut) => {
          const bad = Buffer.from(good.subarray(0, Math.max(cut, 1)));
          if (pos < bad.length) bad[pos] = byte;
          try {
            await readTar(Readable.from([bad]), {
              entry: () => undefined,
              data: () => undefined,
              end: () => undefined,
            });
          } catch (e) {
            expect(e).toBeInstanceOf(SkiffError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
