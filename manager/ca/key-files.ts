// A manager's certificate keys under autolock: sealed on disk (AES-256-GCM) with a key
// derived from its store key, so they are locked whenever the store key is (as Swarm's
// autolock encrypts the TLS key with the unlock key), and readable again once it is
// unlocked. A sealed file is armoured so that nothing in it reads as a PEM private key:
//
//   -----BEGIN SKIFF LOCKED KEY-----
//   base64(nonce (12) | ciphertext | tag (16))       bound to the file's name
//   -----END SKIFF LOCKED KEY-----

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { SkiffError } from '../../lib/index.js';

const BEGIN = '-----BEGIN SKIFF LOCKED KEY-----';
const END = '-----END SKIFF LOCKED KEY-----';

export interface KeyFileSealer {
  seal(pem: string, name: string): string;
  open(text: string, name: string): string;
}

export function isSealedKeyFile(text: string): boolean {
  return text.startsWith(BEGIN);
}

/** Seals and opens certificate key files with a key derived from the manager's store key. */
export function keyFileSealer(storeKey: Uint8Array): KeyFileSealer {
  const key = Buffer.from(hkdfSync('sha256', storeKey, 'skiff', 'skiff certificate keys at rest v1', 32));
  return {
    seal(pem, name) {
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(Buffer.from(name));
      const body = Buffer.concat([nonce, c.update(pem, 'utf8'), c.final(), c.getAuthTag()]);
      const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
      return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
    },
    open(text, name) {
      if (!isSealedKeyFile(text)) return text;
      const raw = Buffer.from(text.slice(BEGIN.length, text.indexOf(END)).replace(/\s+/g, ''), 'base64');
      const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(name));
      d.setAuthTag(raw.subarray(raw.length - 16));
      try {
        return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
      } catch {
        throw new SkiffError(
          'corrupt',
          `the locked certificate key ${name} does not open with this manager's store key`,
          { hint: 'the certs directory and the store key do not belong together' },
        );
      }
    },
  };
}

/** The clear PEM of a key file's text; a sealed one needs the sealer (the manager unlocked). */
export function openKeyFile(text: string, name: string, sealer: KeyFileSealer | undefined): string {
  if (!isSealedKeyFile(text)) return text;
  if (!sealer)
    throw new SkiffError('unavailable', `the certificate key ${name} is locked (autolock)`, {
      hint: 'unlock the manager with `skiff cluster unlock` and the unlock key',
    });
  return sealer.open(text, name);
}
