// A one-file layer tar whose entry carries extended attributes as PAX SCHILY.xattr
// records (what docker and buildkit write); the fixtures' tar writer has no xattrs.
import { Header } from 'tar';
import { FIXED_MTIME } from '../../fixtures/index.js';

function paxRecord(key: string, value: string): string {
  const base = ` ${key}=${value}\n`;
  let len = base.length + 1;
  while (`${len}${base}`.length !== len) len++;
  return `${len}${base}`;
}

function block(data: ConstructorParameters<typeof Header>[0]): Buffer {
  const b = Buffer.alloc(512);
  new Header(data).encode(b);
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

export function tarWithXattrs(path: string, content: string, xattrs: Record<string, string>): Buffer {
  const pax = Buffer.from(
    Object.entries(xattrs)
      .map(([k, v]) => paxRecord(`SCHILY.xattr.${k}`, v))
      .join(''),
  );
  const body = Buffer.from(content);
  return Buffer.concat([
    block({
      path: `PaxHeader/${path}`,
      mode: 0o644,
      size: pax.length,
      type: 'ExtendedHeader',
      mtime: FIXED_MTIME,
    }),
    pax,
    pad(pax.length),
    block({ path, mode: 0o644, size: body.length, type: 'File', mtime: FIXED_MTIME, uid: 0, gid: 0 }),
    body,
    pad(body.length),
    Buffer.alloc(1024),
  ]);
}
