import { createPublicKey, sign, verify } from 'node:crypto';
import { z } from 'zod';
import type { Logger, Node } from '../../lib/index.js';
import { lazy, SkiffError, silentLogger } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import {
  issueNodeCertificate,
  type KeyPair,
  type NodeCertificateInfo,
  type NodeRole,
} from './certificates.js';
import { parseJoinToken, tokensEqual } from './tokens.js';

/**
 * What a joining node sends: its public key (SPKI PEM) and a signature over the token
 * and that key, which proves it holds the private key (the job a CSR's signature does).
 */
export interface JoinRequest {
  token: string;
  publicKey: string;
  proof: string;
  hostname: string;
  /** host:port the node is reachable at (managers: their API address). */
  addr?: string;
  /** Asks to join as a manager, with raft on this host:port: a worker token is refused. */
  raftAddr?: string;
  /**
   * Where the node's raft would listen should the token make it a manager: the token
   * decides the role (`skiff cluster join`), and a worker token ignores this.
   */
  raftAddrIfManager?: string;
}

/**
 * How the join service changes raft membership (the leader's RaftNode). A learner added
 * here is promoted by whichever manager leads once it has caught up (the manager's raft
 * runs with promoteLearners), so a leader change mid-way does not leave it a learner.
 */
export interface RaftMembership {
  addLearner(id: string, addr: string): Promise<void>;
  members(): { id: string; addr: string }[];
  /** Takes a manager out of the group (demotion, removal). */
  removeMember(id: string): Promise<void>;
}

export interface JoinResponse {
  nodeId: string;
  role: NodeRole;
  certificate: string;
  rootCa: string;
  /** Addresses of the managers, for the node's connections. */
  managers: string[];
  /** Managers only: what a new manager needs to run as one of the group. */
  manager?: {
    /** The cluster CA key (PEM), to issue certificates. */
    caKey: string;
    /** The key that seals secret data in the store (base64). */
    secretsKey: string;
    /** The raft members to contact. */
    raftPeers: { id: string; addr: string }[];
    /** The managers-only CA raft's mTLS uses (certificate and key, PEM). */
    raftCa: KeyPair;
  };
}

/** Built at the first request: most nodes never see one, and each schema costs at its build. */
const schemas = lazy(() => {
  const hostPort = z
    .string()
    .max(300)
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');
  return {
    join: z.object({
      token: z.string().max(200),
      publicKey: z.string().max(4096),
      proof: z.string().max(1024),
      hostname: z.string().min(1).max(253),
      addr: z.string().max(300).optional(),
      raftAddr: hostPort.optional(),
      raftAddrIfManager: hostPort.optional(),
    }),
    renew: z.object({ publicKey: z.string().max(4096), proof: z.string().max(1024) }),
    promote: z.object({ addr: hostPort, raftAddr: hostPort }),
  };
});

const DEFAULT_CERT_VALIDITY_MS = 90 * 86_400_000;

export function proofMessage(purpose: 'join' | 'renew', token: string, publicKeyPem: string): Buffer {
  return Buffer.from(`skiff-${purpose}\n${token}\n${publicKeyPem}`);
}

/** Signs the proof of possession a join or renew request carries. */
export function signProof(
  purpose: 'join' | 'renew',
  token: string,
  publicKeyPem: string,
  keyPem: string,
): string {
  return sign('sha256', proofMessage(purpose, token, publicKeyPem), keyPem).toString('base64');
}

/**
 * The manager side of joining: check the token, create the node object with the
 * role the token grants, and issue its certificate from the cluster CA.
 */
export class JoinService {
  private readonly log: Logger;
  private readonly clock: () => Date;

  constructor(
    private readonly o: {
      store: Store;
      ca: KeyPair;
      logger?: Logger;
      clock?: () => Date;
      /** Without these, manager tokens are refused (the manager cannot add raft members). */
      raft?: RaftMembership;
      secretsKey?: Uint8Array;
      raftCa?: KeyPair;
    },
  ) {
    this.log = (o.logger ?? silentLogger).child({ component: 'ca' });
    this.clock = o.clock ?? (() => new Date());
  }

  get rootCaPem(): string {
    return this.o.ca.certPem;
  }

  async join(body: unknown): Promise<JoinResponse> {
    const req = parseOrThrow(schemas().join, body, 'join request');
    parseJoinToken(req.token);
    const cluster = this.o.store.getCluster();
    if (!cluster?.JoinTokens) throw new SkiffError('unavailable', 'the cluster is not initialized yet');
    let role: NodeRole;
    if (tokensEqual(req.token, cluster.JoinTokens.Manager)) role = 'manager';
    else if (tokensEqual(req.token, cluster.JoinTokens.Worker)) role = 'worker';
    else {
      this.log.warn({ hostname: req.hostname }, 'join refused: invalid token');
      throw new SkiffError('unauthorized', 'the join token is not valid for this cluster', {
        hint: 'tokens change when rotated; get the current one with `skiff cluster join-token worker`',
      });
    }
    checkProof('join', req.token, req.publicKey, req.proof);
    if (role === 'worker' && req.raftAddr) {
      // Asking to run raft is asking to be a manager: the token must say so.
      throw new SkiffError('forbidden', 'this is a worker token: a manager joins with the manager token', {
        hint: 'get it with `skiff cluster join-token manager` on a manager',
      });
    }
    const raft = this.o.raft;
    const secretsKey = this.o.secretsKey;
    const raftCa = this.o.raftCa;
    const raftAddr = req.raftAddr ?? req.raftAddrIfManager;
    if (role === 'manager' && (!raft || !secretsKey || !raftCa || !raftAddr)) {
      throw new SkiffError(
        'invalid_argument',
        'joining as a manager needs the raft address of the new manager (raftAddr)',
        {
          hint: 'pass the address its raft listens on',
        },
      );
    }
    const now = this.clock();
    const node = await this.o.store.update((tx) =>
      tx.createNode({
        Spec: { Labels: {}, Role: role, Availability: 'active' },
        Description: { Hostname: req.hostname },
        Status: { State: 'unknown', ...(req.addr ? { Addr: hostOf(req.addr) } : {}) },
        ...(role === 'manager'
          ? { ManagerStatus: { Reachability: 'unknown' as const, Addr: req.addr ?? '' } }
          : {}),
      }),
    );
    const certificate = issueNodeCertificate({
      ca: this.o.ca,
      publicKeyPem: req.publicKey,
      nodeId: node.ID,
      role,
      clusterId: cluster.ID,
      now,
      validForMs: this.validityMs(),
    });
    let manager: JoinResponse['manager'];
    if (role === 'manager' && raft && secretsKey && raftCa && raftAddr) {
      // A learner first: it catches up without counting toward quorum, then the leader makes it a voter.
      await raft.addLearner(node.ID, raftAddr);
      manager = {
        caKey: this.o.ca.keyPem,
        secretsKey: Buffer.from(secretsKey).toString('base64'),
        raftPeers: raft.members().filter((m) => m.id !== node.ID),
        raftCa,
      };
    }
    this.log.info({ nodeId: node.ID, role, hostname: req.hostname }, 'node joined');
    return {
      nodeId: node.ID,
      role,
      certificate,
      rootCa: this.o.ca.certPem,
      managers: this.managerAddrs(),
      ...(manager ? { manager } : {}),
    };
  }

  /** A fresh certificate for an authenticated node; the role comes from the store (promotion/demotion take effect here). */
  async renew(peer: NodeCertificateInfo, body: unknown): Promise<{ certificate: string; role: NodeRole }> {
    const req = parseOrThrow(schemas().renew, body, 'renew request');
    const node: Node | undefined = this.o.store.getNode(peer.nodeId);
    if (!node || node.ID !== peer.nodeId)
      throw new SkiffError('unauthorized', `node ${peer.nodeId} is no longer part of the cluster`);
    checkProof('renew', peer.nodeId, req.publicKey, req.proof);
    const role: NodeRole = node.Spec.Role === 'manager' ? 'manager' : 'worker';
    const cluster = this.o.store.getCluster();
    const certificate = issueNodeCertificate({
      ca: this.o.ca,
      publicKeyPem: req.publicKey,
      nodeId: node.ID,
      role,
      clusterId: cluster?.ID ?? peer.clusterId,
      now: this.clock(),
      validForMs: this.validityMs(),
    });
    this.log.info({ nodeId: node.ID, role }, 'node certificate renewed');
    return { certificate, role };
  }

  /**
   * A promoted node (its store role is manager, its renewed certificate says so) asks
   * for what a manager needs and becomes a raft member at `raftAddr`. Only the leader
   * can add it; a follower refuses, and the node asks the next manager.
   */
  async promote(peer: NodeCertificateInfo, body: unknown): Promise<JoinResponse> {
    const req = parseOrThrow(schemas().promote, body, 'promote request');
    const node = this.o.store.getNode(peer.nodeId);
    if (!node) throw new SkiffError('unauthorized', `node ${peer.nodeId} is no longer part of the cluster`);
    if (node.Spec.Role !== 'manager' || peer.role !== 'manager') {
      throw new SkiffError('forbidden', `node ${node.ID} is not promoted to manager`, {
        hint: 'promote it first: skiff node promote NODE',
      });
    }
    const { raft, secretsKey, raftCa } = this.o;
    if (!raft || !secretsKey || !raftCa) {
      throw new SkiffError('unsupported', 'this manager cannot add raft members');
    }
    // A learner, made a voter by the leader once it has caught up.
    if (!raft.members().some((m) => m.id === node.ID)) await raft.addLearner(node.ID, req.raftAddr);
    await this.o.store.update((tx) => {
      const cur = tx.get('nodes', node.ID);
      if (cur) tx.update('nodes', { ...cur, ManagerStatus: { Reachability: 'unknown', Addr: req.addr } });
    });
    this.log.info({ nodeId: node.ID }, 'node promoted to manager');
    return {
      nodeId: node.ID,
      role: 'manager',
      certificate: '',
      rootCa: this.o.ca.certPem,
      managers: this.managerAddrs(),
      manager: {
        caKey: this.o.ca.keyPem,
        secretsKey: Buffer.from(secretsKey).toString('base64'),
        raftPeers: raft.members().filter((m) => m.id !== node.ID),
        raftCa,
      },
    };
  }

  private validityMs(): number {
    const ns = this.o.store.getCluster()?.Spec.CAConfig?.NodeCertExpiry;
    return ns && ns > 0 ? Math.floor(ns / 1e6) : DEFAULT_CERT_VALIDITY_MS;
  }

  private managerAddrs(): string[] {
    return this.o.store
      .listNodes((n) => n.ManagerStatus !== undefined && n.ManagerStatus.Addr !== '')
      .map((n) => n.ManagerStatus?.Addr ?? '');
  }
}

function checkProof(purpose: 'join' | 'renew', subject: string, publicKeyPem: string, proof: string): void {
  let ok = false;
  try {
    const key = createPublicKey(publicKeyPem);
    if (
      key.asymmetricKeyType !== 'ec' &&
      key.asymmetricKeyType !== 'rsa' &&
      key.asymmetricKeyType !== 'ed25519'
    ) {
      throw new SkiffError('invalid_argument', `unsupported key type ${key.asymmetricKeyType}`);
    }
    ok = verify('sha256', proofMessage(purpose, subject, publicKeyPem), key, Buffer.from(proof, 'base64'));
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw new SkiffError(
      'invalid_argument',
      'the public key in the request cannot be read (expected an SPKI PEM)',
    );
  }
  if (!ok) throw new SkiffError('unauthorized', 'the request does not prove possession of the private key');
}

function parseOrThrow<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new SkiffError(
    'invalid_argument',
    `invalid ${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
  );
}

function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  return i > 0 ? addr.slice(0, i) : addr;
}
