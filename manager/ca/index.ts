// The cluster CA: root CA, node certificates (role in the OU), join tokens.

export {
  createRootCa,
  describeNodeCertificate,
  issueNodeCertificate,
  type KeyPair,
  type NodeCertificateInfo,
  type NodeRole,
  newPrivateKey,
  publicKeyOf,
  verifyNodeCertificate,
} from './certificates.js';
export { newJoinToken, rotateJoinToken } from './tokens.js';
