// The cluster CA: root CA, node certificates (role in the OU), join tokens.

export { type BootstrapOptions, bootstrapCluster } from './bootstrap.js';
export {
  createRootCa,
  describeNodeCertificate,
  issueNodeCertificate,
  type KeyPair,
  type NodeCertificateInfo,
  type NodeRole,
  newPrivateKey,
  peerNode,
  publicKeyOf,
  raftPeerMember,
  requireManagerPeer,
  verifyNodeCertificate,
} from './certificates.js';
export { mtlsChannelCredentials, mtlsServerCredentials, type TlsPems } from './grpc-credentials.js';
export {
  caKeyPair as caKeyPairOf,
  certsDir,
  hasIdentity,
  loadIdentity,
  loadRaftIdentity,
  type NodeIdentity,
  type RaftIdentity,
  resealCertificateKeys,
  saveIdentity,
  saveRaftIdentity,
} from './identity.js';
export { type JoinRequest, type JoinResponse, JoinService, type RaftMembership, signProof } from './join.js';
export { requestJoin, requestPromotion, requestRenewal } from './join-client.js';
export { isSealedKeyFile, type KeyFileSealer, keyFileSealer } from './key-files.js';
export { type NodeHttpsRequest, type NodeHttpsResponse, nodeHttps, nodeHttpsStream } from './node-https.js';
export {
  keepCertificateFresh,
  type RenewalOptions,
  type RenewCertificate,
  renewalDue,
  renewFromManagers,
  renewFromOwnCa,
} from './renewal.js';
export { caDigest, newJoinToken, parseJoinToken, rotateJoinToken } from './tokens.js';
