// gRPC over mTLS with a node's certificates (the dispatcher with the cluster CA, raft
// with the managers-only raft CA). Certificates name nodes by ID, not host: the CA is
// what is checked, not the server's name — and, by a client, the manager role: every
// gRPC server a node calls (dispatcher, raft) is a manager's.
import * as grpc from '@grpc/grpc-js';
import { requireManagerPeer } from './certificates.js';

/** The PEMs a TLS endpoint needs: the CA to trust, and its own certificate and key. */
export interface TlsPems {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A server that asks every client for a certificate of the CA. */
export function mtlsServerCredentials(id: TlsPems): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    Buffer.from(id.caPem),
    [{ private_key: Buffer.from(id.keyPem), cert_chain: Buffer.from(id.certPem) }],
    true,
  );
}

/** A client of a manager's gRPC server: the server's certificate must be a manager's. */
export function mtlsChannelCredentials(id: TlsPems): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem), {
    checkServerIdentity: requireManagerPeer,
  });
}
