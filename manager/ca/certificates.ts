import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { type NodeRole, peerNode, ROLE_OU, roleOfOu, SkiffError } from '../../lib/index.js';
import * as der from './der.js';

export { type NodeRole, peerNode, requireManagerPeer } from '../../lib/index.js';

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface NodeCertificateInfo {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  notBefore: Date;
  notAfter: Date;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/** A new EC P-256 private key in PKCS#8 PEM. */
export function newPrivateKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** The SPKI PEM public key of a private key. */
export function publicKeyOf(keyPem: string): string {
  return createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
}

/** A self-signed root CA for a cluster (CN=swarm-ca), valid for `validForMs`. */
export function createRootCa(opts: {
  clusterId: string;
  commonName?: string;
  now?: Date;
  validForMs?: number;
}): KeyPair {
  const keyPem = newPrivateKey();
  const now = opts.now ?? new Date();
  const name = distinguishedName([
    [OID.commonName, opts.commonName ?? 'swarm-ca'],
    [OID.organization, opts.clusterId],
  ]);
  const certPem = signCertificate({
    issuer: name,
    subject: name,
    publicKeyPem: publicKeyOf(keyPem),
    signingKeyPem: keyPem,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (opts.validForMs ?? 20 * 365 * 86_400_000)),
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.integer(1))),
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
    ],
  });
  return { certPem, keyPem };
}

/**
 * Issues a node certificate: CN = node ID, OU = role, O = cluster ID; usable as TLS
 * server and client. The caller has checked the join token and proof of possession.
 */
export function issueNodeCertificate(opts: {
  ca: KeyPair;
  publicKeyPem: string;
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  now?: Date;
  validForMs: number;
}): string {
  const now = opts.now ?? new Date();
  const caCert = new X509Certificate(opts.ca.certPem);
  return signCertificate({
    issuer: issuerNameOf(caCert),
    subject: distinguishedName([
      [OID.organization, opts.clusterId],
      [OID.organizationalUnit, ROLE_OU[opts.role]],
      [OID.commonName, opts.nodeId],
    ]),
    publicKeyPem: opts.publicKeyPem,
    signingKeyPem: opts.ca.keyPem,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + opts.validForMs),
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)), // digitalSignature, keyEncipherment
      extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
      extension(OID.subjectAltName, false, der.sequence(dnsName(opts.nodeId), dnsName(ROLE_OU[opts.role]))),
    ],
  });
}

/**
 * Checks that `certPem` was issued by the cluster CA, is within its validity at
 * `now`, and carries a node role; returns what it says. Throws 'unauthorized'.
 */
export function verifyNodeCertificate(
  certPem: string | Uint8Array,
  caPem: string,
  now = new Date(),
): NodeCertificateInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(typeof certPem === 'string' ? certPem : Buffer.from(certPem));
  } catch {
    throw new SkiffError('unauthorized', 'the certificate cannot be parsed');
  }
  const ca = new X509Certificate(caPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new SkiffError('unauthorized', "the certificate was not issued by this cluster's CA");
  }
  const info = describeNodeCertificate(cert);
  if (now < info.notBefore || now > info.notAfter) {
    throw new SkiffError(
      'unauthorized',
      `the certificate of node ${info.nodeId} expired or is not yet valid (valid ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()})`,
      {
        hint: 'renew it, or rejoin the node with a join token',
      },
    );
  }
  return info;
}

export function describeNodeCertificate(cert: X509Certificate | string): NodeCertificateInfo {
  const c = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  const fields = new Map<string, string>();
  for (const line of c.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const ou = fields.get('OU');
  const role = roleOfOu(ou);
  const nodeId = fields.get('CN');
  if (!role || !nodeId)
    throw new SkiffError(
      'unauthorized',
      'the certificate is not a skiff node certificate (no node ID or role)',
    );
  return {
    nodeId,
    role,
    clusterId: fields.get('O') ?? '',
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
  };
}

/**
 * The raft member a raft peer may speak for: its node ID, when its certificate (of the
 * managers-only raft CA, checked by the handshake) is a manager's; otherwise an Error.
 */
export function raftPeerMember(cert: PeerCertificate | undefined): string | Error {
  const peer = peerNode(cert);
  return peer?.role === 'manager'
    ? peer.nodeId
    : new SkiffError('unauthorized', 'a raft peer needs a manager certificate of the raft CA');
}

// ------------------------------------------------------------------ encoding

function signCertificate(o: {
  issuer: Buffer;
  subject: Buffer;
  publicKeyPem: string;
  signingKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): string {
  const algorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const spki = createPublicKey(o.publicKeyPem).export({ type: 'spki', format: 'der' });
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(serial),
    algorithm,
    o.issuer,
    der.sequence(der.time(o.notBefore), der.time(o.notAfter)),
    o.subject,
    spki,
    der.explicit(3, der.sequence(...o.extensions)),
  );
  const signature = sign('sha256', tbs, createPrivateKey(o.signingKeyPem));
  const certDer = der.sequence(tbs, algorithm, der.bitString(signature));
  const b64 = certDer.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

function distinguishedName(attrs: [string, string][]): Buffer {
  return der.sequence(...attrs.map(([o, v]) => der.set(der.sequence(der.oid(o), der.utf8String(v)))));
}

/** The CA's subject, re-encoded the way we encoded it (we only sign with CAs we made). */
function issuerNameOf(ca: X509Certificate): Buffer {
  const fields = new Map<string, string>();
  for (const line of ca.subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return distinguishedName([
    [OID.commonName, fields.get('CN') ?? 'swarm-ca'],
    [OID.organization, fields.get('O') ?? ''],
  ]);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

function dnsName(s: string): Buffer {
  return der.tlv(0x82, Buffer.from(s, 'ascii'));
}
