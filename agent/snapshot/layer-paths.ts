// Pure checks on layer entry paths: what a tar entry may name, what its links may point
// to, and how OCI whiteout files translate. Everything that could escape the layer
// directory is refused here, before any byte is written.
import { SkiffError } from '../../lib/index.js';

export const OPAQUE_MARKER = '.wh..wh..opq';
const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';

export function escapes(layer: string, path: string): SkiffError {
  return new SkiffError(
    'invalid_argument',
    `layer ${layer} contains a path that escapes the rootfs: ${path}`,
    {
      hint: 'the image is malformed or malicious; nothing from it was unpacked',
    },
  );
}

/**
 * Cleans an entry path to `a/b/c` (no leading `./`, no trailing `/`); `''` is the layer
 * root. Absolute paths and any `..` component are refused.
 */
export function cleanEntryPath(raw: string, layer: string): string {
  if (raw.startsWith('/')) throw escapes(layer, raw);
  if (raw.includes('\0')) throw escapes(layer, raw);
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw escapes(layer, raw);
    parts.push(part);
  }
  return parts.join('/');
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Every proper ancestor of `a/b/c`: `a`, `a/b`. */
export function ancestors(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/**
 * A relative symlink target must stay inside the rootfs when resolved from the link's
 * directory (absolute targets are resolved inside the container's root, so they are fine).
 */
export function checkSymlinkTarget(path: string, target: string, layer: string): void {
  if (target === '' || target.includes('\0')) throw escapes(layer, `${path} -> ${target}`);
  if (target.startsWith('/')) return;
  let depth = parentOf(path) === '' ? 0 : parentOf(path).split('/').length;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      depth--;
      if (depth < 0) throw escapes(layer, `${path} -> ${target}`);
    } else {
      depth++;
    }
  }
}

/** Hard link targets name another entry of the same layer: clean, relative, inside. */
export function cleanHardlinkTarget(path: string, target: string, layer: string): string {
  if (target.startsWith('/') || target.split('/').includes('..'))
    throw escapes(layer, `${path} => ${target}`);
  const clean = cleanEntryPath(target, layer);
  if (clean === '') throw escapes(layer, `${path} => ${target}`);
  return clean;
}

export type WhiteoutKind =
  | { kind: 'none' }
  /** Delete `target` from lower layers: an overlay whiteout (char device 0/0) at `target`. */
  | { kind: 'whiteout'; target: string }
  /** Hide the lower layers' content of directory `dir`: trusted.overlay.opaque=y on it. */
  | { kind: 'opaque'; dir: string }
  /** AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): ignored, as docker does. */
  | { kind: 'meta' };

export function classifyWhiteout(path: string): WhiteoutKind {
  const name = baseName(path);
  if (!name.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  const dir = parentOf(path);
  if (name === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (name.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const target = name.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') return { kind: 'meta' };
  return { kind: 'whiteout', target: dir === '' ? target : `${dir}/${target}` };
}

/** Escapes a path for getfattr's dump format (setfattr --restore reads it back). */
export function escapeAttrPath(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    if (byte < 0x21 || byte > 0x7e || byte === 0x5c /* \ */ || byte === 0x3d /* = */ || byte === 0x22) {
      out += `\\${byte.toString(8).padStart(3, '0')}`;
    } else {
      out += String.fromCharCode(byte);
    }
  }
  return out;
}

/** One file's block in a getfattr dump: `# file: PATH` then `name=0sBASE64` lines. */
export function attrDumpBlock(path: string, attrs: Record<string, Buffer>): string {
  const lines = [`# file: ${escapeAttrPath(path)}`];
  for (const [name, value] of Object.entries(attrs))
    lines.push(`${escapeAttrPath(name)}=0s${value.toString('base64')}`);
  return `${lines.join('\n')}\n\n`;
}
