import { describe, expect, it } from 'vitest';
import {
  checkSymlinkTarget,
  classifyWhiteout,
  cleanEntryPath,
  cleanHardlinkTarget,
} from '../../../agent/snapshot/index.js';
import { attrDumpBlock, escapeAttrPath } from '../../../agent/snapshot/layer-paths.js';

describe('cleanEntryPath', () => {
  it.each([
    ['./a/b', 'a/b'],
    ['a/b/', 'a/b'],
    ['a//b/./c', 'a/b/c'],
    ['./', ''],
    ['.', ''],
  ])('%s → %s', (raw, clean) => {
    expect(cleanEntryPath(raw, 'L')).toBe(clean);
  });

  it.each(['../../x', 'a/../../x', 'a/..', '/etc/passwd', '/', 'a\0b'])('refuses %j', (raw) => {
    expect(() => cleanEntryPath(raw, 'sha256:L')).toThrow(
      `layer sha256:L contains a path that escapes the rootfs: ${raw}`,
    );
  });
});

describe('link targets', () => {
  it('accepts absolute and inside-relative symlinks', () => {
    for (const [path, target] of [
      ['bin/sh', '/bin/busybox'],
      ['bin/sh', 'busybox'],
      ['usr/lib/x', '../../lib/x'],
      ['a', './b'],
    ] as const) {
      expect(() => checkSymlinkTarget(path, target, 'L')).not.toThrow();
    }
  });

  it('refuses relative symlinks that climb out of the rootfs', () => {
    expect(() => checkSymlinkTarget('a/b', '../../x', 'L')).toThrow(
      /escapes the rootfs: a\/b -> \.\.\/\.\.\/x/,
    );
    expect(() => checkSymlinkTarget('x', '..', 'L')).toThrow(/escapes/);
    expect(() => checkSymlinkTarget('a/b', 'c/../../../etc', 'L')).toThrow(/escapes/);
  });

  it('keeps hard links inside the layer', () => {
    expect(cleanHardlinkTarget('b', './a', 'L')).toBe('a');
    expect(() => cleanHardlinkTarget('b', '/etc/shadow', 'L')).toThrow(/escapes/);
    expect(() => cleanHardlinkTarget('b', '../../etc/shadow', 'L')).toThrow(/escapes/);
    expect(() => cleanHardlinkTarget('b', '.', 'L')).toThrow(/escapes/);
  });
});

describe('classifyWhiteout', () => {
  it('translates OCI whiteouts', () => {
    expect(classifyWhiteout('etc/.wh.passwd')).toEqual({ kind: 'whiteout', target: 'etc/passwd' });
    expect(classifyWhiteout('.wh.tmp')).toEqual({ kind: 'whiteout', target: 'tmp' });
    expect(classifyWhiteout('var/cache/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'var/cache' });
    expect(classifyWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque', dir: '' });
    expect(classifyWhiteout('.wh..wh.plnk/1.2')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('x/.wh..wh.aufs')).toEqual({ kind: 'meta' });
    expect(classifyWhiteout('etc/passwd')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('etc/x.wh.y')).toEqual({ kind: 'none' });
  });
});

describe('xattr dump', () => {
  it('escapes paths the way getfattr does and encodes values in base64', () => {
    expect(escapeAttrPath('/a b/c=d\\e\n')).toBe('/a\\040b/c\\075d\\134e\\012');
    expect(attrDumpBlock('/x', { 'trusted.overlay.opaque': Buffer.from('y') })).toBe(
      '# file: /x\ntrusted.overlay.opaque=0seQ==\n\n',
    );
  });
});
