// A minimal DER encoder: just the ASN.1 types an X.509 certificate needs. Encoding
// is deterministic and small enough to check by reading; parsing is left to Node's
// X509Certificate (OpenSSL).

const concat = (parts: readonly Uint8Array[]) => Buffer.concat(parts);

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return concat([Buffer.from([tag]), length(content.length), content]);
}

export const sequence = (...items: Uint8Array[]) => tlv(0x30, concat(items));
export const set = (...items: Uint8Array[]) => tlv(0x31, concat(items));
export const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 + n, inner);
export const octetString = (b: Uint8Array) => tlv(0x04, b);
export const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
export const ia5String = (s: string) => tlv(0x16, Buffer.from(s, 'ascii'));
export const boolean = (b: boolean) => tlv(0x01, Buffer.from([b ? 0xff : 0]));

/** A non-negative integer given as big-endian bytes (a leading zero keeps it positive). */
export function integer(bytes: Uint8Array | number): Buffer {
  let b = typeof bytes === 'number' ? bigEndian(bytes) : Buffer.from(bytes);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if ((b[0] ?? 0) & 0x80) b = concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function bigEndian(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes.length ? bytes : [0]);
}

export function bitString(b: Uint8Array, unusedBits = 0): Buffer {
  return tlv(0x03, concat([Buffer.from([unusedBits]), b]));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const out: number[] = [40 * a + b];
  for (const p of rest) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime after, as RFC 5280 asks. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, ''); // 20260102030405
  const year = d.getUTCFullYear();
  if (year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}
