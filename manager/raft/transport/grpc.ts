// Raft messages between peers over gRPC (@grpc/grpc-js) without a .proto: two client-streaming
// methods carry our own binary frames. One long-lived stream per peer carries batches of
// messages; snapshots travel on their own stream in chunks. A broken stream is reported to
// the core as 'unreachable' and reopened with exponential backoff. Credentials are injected
// (mTLS comes with the manager's CA); tests run plain. With `peerMember`, a message's `from`
// must be the member the sender's certificate names: one manager cannot speak for another.
// Snapshot transfers are bounded in size (a peer cannot make this process buffer without end).

import type { Http2Session } from 'node:http2';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  decodeSnapshotMeta,
  encodeSnapshotMeta,
  Reader,
  readMessage,
  Writer,
  writeMessage,
} from '../codec.js';
import type { Message, Snapshot } from '../types.js';

export interface RaftLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: RaftLogger = { info() {}, warn() {}, error() {}, debug() {} };

export interface TransportOptions {
  id: string;
  /** host:port to listen on; port 0 picks a free one. */
  listenAddr: string;
  serverCredentials?: grpc.ServerCredentials;
  /**
   * A function is called at the first peer: a TLS client context costs ~30 ms (Node copies
   * its root certificates), which a group of one never needs.
   */
  channelCredentials?: grpc.ChannelCredentials | (() => grpc.ChannelCredentials);
  /** Messages from peers, and local reports ('unreachable', 'snapStatus') about peers. */
  onMessage: (m: Message) => void;
  logger?: RaftLogger;
  snapshotChunkBytes?: number;
  /**
   * The raft member an incoming call may speak for, from the peer's certificate (mTLS), or
   * an Error to refuse it. Messages whose `from` differs are dropped. Without it `from` is
   * trusted (plain-text tests).
   */
  peerMember?: (certificate: PeerCertificate | undefined) => string | Error;
  /** The largest snapshot accepted from a peer (default MAX_SNAPSHOT_BYTES). */
  maxSnapshotBytes?: number;
}

/** A snapshot larger than this is refused unless the node says otherwise. */
export const MAX_SNAPSHOT_BYTES = 1 << 30;

const MAX_FRAME = 2 << 20;
const MAX_GRPC_MESSAGE = 64 << 20;
// Keepalive pings notice a peer that vanished without closing its connection (a cut link).
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_GRPC_MESSAGE,
  'grpc.max_send_message_length': MAX_GRPC_MESSAGE,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  // grpc-js backs reconnects off up to 120 s on its own: a peer that was down for a minute
  // would stay unreachable long after it restarted. The transport has its own backoff.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};
// HTTP/2 flow control paces replication: raft data flows client → server here, so the
// receiving server's window decides how much a sender may have in flight. Node's default is
// 64 KiB per stream and per connection, and the receiver reopens it only when its event loop
// gets a turn: on a busy manager (5 ms of work per turn) 30 MB of appends took 9.6 s instead of
// 0.8 s (bench/placement/raft-busy-probe.ts). grpc-js 1.14 honours 'grpc-node.flow_control_window'
// only for clients (server support is grpc-node PR #3058), so raiseReceiveWindow() widens each
// incoming session; the option is also passed to the server for grpc-js versions that read it.
// Memory stays bounded: a sender holds at most the core's inflight window of appends anyway.
export const RECEIVE_WINDOW_BYTES = 16 << 20;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;
const identity = (b: Buffer) => b;
const empty = () => Buffer.alloc(0);

const service: grpc.ServiceDefinition = {
  send: {
    path: '/skiff.raft.Raft/Send',
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: empty,
    responseDeserialize: empty,
  },
  snapshot: {
    path: '/skiff.raft.Raft/Snapshot',
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: empty,
    responseDeserialize: empty,
  },
};
const RaftClient = grpc.makeGenericClientConstructor(service, 'Raft');

/**
 * The format of the frames this transport sends (messages, snapshot headers), and the
 * newest it reads. Each stream says its format in this metadata key; a stream without it
 * comes from a node older than the key (format 1). A newer format is refused with both
 * versions named (FAILED_PRECONDITION) instead of being misread.
 */
export const RAFT_FORMAT = 1;
export const RAFT_FORMAT_KEY = 'skiff-raft-format';

/** Why a stream of `md`'s format is refused, or undefined when this node reads it. */
export function raftFormatRefusal(md: grpc.Metadata, from: string | undefined): string | undefined {
  const values = md.get(RAFT_FORMAT_KEY);
  if (values.length === 0) return undefined;
  const v = String(values[0]);
  const n = Number(v);
  if (Number.isSafeInteger(n) && n >= 1 && n <= RAFT_FORMAT) return undefined;
  return `raft messages of format ${v}${from ? ` from ${from}` : ''}; this node reads raft formats 1 to ${RAFT_FORMAT}: upgrade it to the version its peers run`;
}

function formatMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(RAFT_FORMAT_KEY, String(RAFT_FORMAT));
  return md;
}

interface Peer {
  id: string;
  addr: string;
  client: grpc.Client | null;
  stream: grpc.ClientWritableStream<Buffer> | null;
  retryAt: number;
  backoff: number;
  sendingSnapshot: boolean;
  /** The peer refused our format (logged once). */
  refusedWarned: boolean;
}

export class GrpcTransport {
  private readonly peers = new Map<string, Peer>();
  private closed = false;
  private readonly log: RaftLogger;

  private constructor(
    private readonly opts: TransportOptions,
    private readonly server: grpc.Server,
    readonly addr: string,
  ) {
    this.log = opts.logger ?? silentLogger;
  }

  static async start(opts: TransportOptions): Promise<GrpcTransport> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_GRPC_MESSAGE,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
    });
    const widened = new WeakSet<Http2Session>();
    let transport: GrpcTransport | null = null;
    const deliver = (m: Message) => {
      if (transport && !transport.closed) opts.onMessage(m);
    };
    const log = opts.logger ?? silentLogger;
    const maxSnapshot = opts.maxSnapshotBytes ?? MAX_SNAPSHOT_BYTES;
    /** Who the call may speak for: undefined = anyone (no peerMember), an Error = nobody. */
    const memberOf = (call: grpc.ServerReadableStream<Buffer, Buffer>): string | Error | undefined =>
      opts.peerMember?.(call.getAuthContext()?.sslPeerCertificate);
    // A refused peer retries its stream every few seconds: said once a minute per peer.
    const refusedAt = new Map<string, number>();
    const refuseFormat = (member: string | undefined, why: string) => {
      const key = member ?? '';
      const now = Date.now();
      if (now - (refusedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
      refusedAt.set(key, now);
      log.error({ peer: member, err: why }, 'refusing raft messages of a format this node does not read');
    };
    /**
     * A stream from a peer: its certificate's member ID (undefined without a check), once
     * the peer and its format are accepted; false after refusing it with `cb`.
     */
    const admit = (
      call: grpc.ServerReadableStream<Buffer, Buffer>,
      cb: grpc.sendUnaryData<Buffer>,
      what: string,
    ): string | undefined | false => {
      const member = memberOf(call);
      if (member instanceof Error) {
        log.warn({ err: member.message }, `refusing a raft ${what}`);
        cb({ code: grpc.status.PERMISSION_DENIED, details: member.message });
        return false;
      }
      const refused = raftFormatRefusal(call.metadata, member);
      if (refused) {
        refuseFormat(member, refused);
        cb({ code: grpc.status.FAILED_PRECONDITION, details: refused });
        return false;
      }
      raiseReceiveWindow(call, widened, log);
      return member;
    };
    server.addService(service, {
      send: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const member = admit(call, cb, 'stream');
        if (member === false) return;
        let spoofWarned = false;
        call.on('data', (frame: Buffer) => {
          try {
            const r = new Reader(frame, 'raft message frame');
            const n = r.u32();
            for (let i = 0; i < n; i++) {
              // grpc-js hands each message in a buffer of its own: entries may keep views into it.
              const m = readMessage(r, false);
              if (member !== undefined && m.from !== member) {
                if (!spoofWarned)
                  log.warn(
                    { peer: member, from: m.from },
                    'dropping raft messages that claim another sender',
                  );
                spoofWarned = true;
                continue;
              }
              if (m.to === opts.id) deliver(m);
            }
          } catch (e) {
            log.warn({ err: String(e) }, 'dropping a malformed raft message frame');
          }
        });
        call.on('end', () => cb(null, Buffer.alloc(0)));
        call.on('error', () => {});
      },
      snapshot: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const member = admit(call, cb, 'snapshot');
        if (member === false) return;
        // The header comes first and says the size; the transfer is refused as soon as it
        // claims or sends more than the bound, or more than it claimed.
        let header:
          | { from: string; to: string; term: number; meta: Snapshot['meta']; size: number }
          | undefined;
        const chunks: Buffer[] = [];
        let received = 0;
        let failed = false;
        const fail = (code: grpc.status, why: string) => {
          if (failed) return;
          failed = true;
          chunks.length = 0;
          log.warn({ peer: member ?? header?.from, err: why }, 'rejecting a snapshot transfer');
          cb({ code, details: why });
        };
        call.on('data', (chunk: Buffer) => {
          if (failed) return;
          if (!header) {
            try {
              const r = new Reader(chunk, 'snapshot header');
              header = {
                from: r.str(),
                to: r.str(),
                term: r.num(),
                meta: decodeSnapshotMeta(r.bytes()),
                size: r.num(),
              };
            } catch (e) {
              fail(grpc.status.INVALID_ARGUMENT, String(e));
              return;
            }
            if (member !== undefined && header.from !== member)
              fail(grpc.status.PERMISSION_DENIED, `peer ${member} cannot send a snapshot as ${header.from}`);
            else if (header.size > maxSnapshot)
              fail(
                grpc.status.RESOURCE_EXHAUSTED,
                `snapshot of ${header.size} bytes exceeds the ${maxSnapshot}-byte bound`,
              );
            return;
          }
          received += chunk.length;
          if (received > header.size) {
            fail(
              grpc.status.INVALID_ARGUMENT,
              `snapshot sends more than the ${header.size} bytes it announced`,
            );
            return;
          }
          chunks.push(chunk);
        });
        call.on('error', () => {});
        call.on('end', () => {
          if (failed) return;
          try {
            if (!header) throw new Error('snapshot transfer without a header');
            const { from, to, term, meta, size } = header;
            const data = Buffer.concat(chunks);
            if (data.length !== size) throw new Error(`snapshot is ${data.length} bytes, expected ${size}`);
            if (to === opts.id)
              deliver({ type: 'snap', from, to, term, snapshot: { meta, data: new Uint8Array(data) } });
            cb(null, Buffer.alloc(0));
          } catch (e) {
            log.warn({ err: String(e) }, 'rejecting a malformed snapshot transfer');
            cb({ code: grpc.status.INVALID_ARGUMENT, details: String(e) });
          }
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        opts.listenAddr,
        opts.serverCredentials ?? grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    const host = opts.listenAddr.slice(0, opts.listenAddr.lastIndexOf(':'));
    transport = new GrpcTransport(opts, server, `${host}:${port}`);
    return transport;
  }

  /** Sets the peer address book (self excluded); peers not listed are disconnected. */
  setPeers(addrs: Record<string, string>): void {
    for (const [id, peer] of this.peers) {
      if (addrs[id] !== peer.addr) {
        this.disconnect(peer);
        this.peers.delete(id);
      }
    }
    for (const [id, addr] of Object.entries(addrs)) {
      if (id === this.opts.id || this.peers.has(id) || !addr) continue;
      this.peers.set(id, {
        id,
        addr,
        client: null,
        stream: null,
        retryAt: 0,
        backoff: BACKOFF_MIN_MS,
        sendingSnapshot: false,
        refusedWarned: false,
      });
    }
  }

  send(messages: Message[]): void {
    if (this.closed || messages.length === 0) return;
    const byPeer = new Map<string, Message[]>();
    for (const m of messages) {
      if (m.type === 'snap') {
        this.sendSnapshot(m);
        continue;
      }
      let list = byPeer.get(m.to);
      if (!list) {
        list = [];
        byPeer.set(m.to, list);
      }
      list.push(m);
    }
    for (const [to, list] of byPeer) {
      const peer = this.peers.get(to);
      if (!peer) continue;
      const stream = this.streamFor(peer);
      if (!stream) {
        this.report({ type: 'unreachable', from: to, to: this.opts.id, term: 0 });
        continue;
      }
      for (const frame of frames(list)) stream.write(frame);
    }
  }

  private streamFor(peer: Peer): grpc.ClientWritableStream<Buffer> | null {
    if (peer.stream) return peer.stream;
    if (Date.now() < peer.retryAt) return null;
    peer.client ??= this.makeClient(peer.addr);
    const client = peer.client as grpc.Client & {
      send(md: grpc.Metadata, cb: grpc.requestCallback<Buffer>): grpc.ClientWritableStream<Buffer>;
    };
    const stream = client.send(formatMetadata(), (err) => {
      if (peer.stream !== stream) return;
      peer.stream = null;
      if (err?.code === grpc.status.FAILED_PRECONDITION && !peer.refusedWarned) {
        peer.refusedWarned = true;
        this.log.error(
          { peer: peer.id, addr: peer.addr, err: err.details },
          'the peer refuses our raft messages',
        );
      }
      if (err && !this.closed) {
        peer.retryAt = Date.now() + peer.backoff;
        this.log.debug(
          { peer: peer.id, addr: peer.addr, err: err.message, retryMs: peer.backoff },
          'raft stream to peer broke',
        );
        peer.backoff = Math.min(peer.backoff * 2, BACKOFF_MAX_MS);
        this.report({ type: 'unreachable', from: peer.id, to: this.opts.id, term: 0 });
      }
    });
    // The first successful response-less write does not prove the peer is up; a healthy stream
    // resets the backoff once the peer answers anything (the core sees its responses).
    stream.on('error', () => {});
    peer.stream = stream;
    return stream;
  }

  private channelCredentials: grpc.ChannelCredentials | undefined;

  private makeClient(addr: string): grpc.Client {
    const c = this.opts.channelCredentials;
    this.channelCredentials ??= (typeof c === 'function' ? c() : c) ?? grpc.credentials.createInsecure();
    return new RaftClient(addr, this.channelCredentials, CHANNEL_OPTIONS);
  }

  /** The core saw a response from `id`: its link works. */
  markAlive(id: string): void {
    const peer = this.peers.get(id);
    if (peer) peer.backoff = BACKOFF_MIN_MS;
  }

  private sendSnapshot(m: Message & { snapshot?: Snapshot }): void {
    const peer = this.peers.get(m.to);
    const snap = m.snapshot;
    if (!peer || !snap || peer.sendingSnapshot) return;
    peer.sendingSnapshot = true;
    peer.client ??= this.makeClient(peer.addr);
    const client = peer.client as grpc.Client & {
      snapshot(md: grpc.Metadata, cb: grpc.requestCallback<Buffer>): grpc.ClientWritableStream<Buffer>;
    };
    const call = client.snapshot(formatMetadata(), (err) => {
      peer.sendingSnapshot = false;
      if (err) this.log.warn({ peer: peer.id, err: err.message }, 'sending a snapshot failed');
      else this.log.info({ peer: peer.id, index: snap.meta.index, bytes: snap.data.length }, 'snapshot sent');
      const report: Message = { type: 'snapStatus', from: peer.id, to: this.opts.id, term: 0 };
      if (err) report.reject = true;
      this.report(report);
    });
    call.on('error', () => {});
    const w = new Writer();
    w.str(m.from);
    w.str(m.to);
    w.num(m.term);
    w.bytes(encodeSnapshotMeta(snap.meta));
    w.num(snap.data.length);
    call.write(w.finish());
    const chunk = this.opts.snapshotChunkBytes ?? 1 << 20;
    for (let off = 0; off < snap.data.length; off += chunk) {
      call.write(
        Buffer.from(snap.data.buffer, snap.data.byteOffset + off, Math.min(chunk, snap.data.length - off)),
      );
    }
    call.end();
  }

  private report(m: Message): void {
    if (!this.closed) queueMicrotask(() => this.opts.onMessage(m));
  }

  private disconnect(peer: Peer): void {
    peer.stream?.end();
    peer.stream = null;
    peer.client?.close();
    peer.client = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) this.disconnect(peer);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 500);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

function* frames(list: Message[]): Generator<Buffer> {
  let at = 0;
  // Sized up front: growing a Writer by doubling copied every append's entries several times
  // (5% of the placement benchmark's CPU, plus the garbage).
  let w = new Writer(frameSize(list, at));
  let countAt = w.reserve32();
  let count = 0;
  for (const m of list) {
    writeMessage(w, m);
    count++;
    at++;
    if (w.length >= MAX_FRAME) {
      w.patch32(countAt, count);
      yield w.finish();
      w = new Writer(frameSize(list, at));
      countAt = w.reserve32();
      count = 0;
    }
  }
  if (count > 0) {
    w.patch32(countAt, count);
    yield w.finish();
  }
}

let windowWarned = false;

/**
 * Widens the HTTP/2 receive window of the session `call` arrived on (once per session): the
 * connection window via setLocalWindowSize, the stream windows (this one included, RFC 9113
 * §6.9.2) via SETTINGS_INITIAL_WINDOW_SIZE. grpc-js does not expose the session, so this walks
 * its call wrappers (ServerReadableStreamImpl.call → interceptors' nextCall → .stream); if a
 * grpc-js upgrade changes that shape, it logs once and replication merely stays slower.
 */
export function raiseReceiveWindow(
  call: object,
  done: WeakSet<Http2Session>,
  log: RaftLogger,
): Http2Session | null {
  const session = findSession(call);
  if (!session) {
    if (!windowWarned) {
      windowWarned = true;
      log.warn({}, 'cannot reach the HTTP/2 session of a raft stream; its receive window stays at 64 KiB');
    }
    return null;
  }
  if (done.has(session) || session.destroyed) return session;
  done.add(session);
  try {
    session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
    session.settings({ initialWindowSize: RECEIVE_WINDOW_BYTES });
  } catch (e) {
    log.debug({ err: String(e) }, 'raising the HTTP/2 receive window failed');
  }
  return session;
}

function findSession(call: object): Http2Session | null {
  let at: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && at && typeof at === 'object'; depth++) {
    const session = (at as { stream?: { session?: unknown } }).stream?.session;
    if (session && typeof (session as Http2Session).setLocalWindowSize === 'function') {
      return session as Http2Session;
    }
    at = (at as { nextCall?: unknown }).nextCall;
  }
  return null;
}

/** An upper estimate of the frame holding list[from…] (up to about MAX_FRAME). */
function frameSize(list: Message[], from: number): number {
  let size = 4;
  for (let i = from; i < list.length && size < MAX_FRAME; i++) {
    const m = list[i]!;
    // Fixed fields and the entry count, plus ids and context (UTF-8: at most 3 bytes a unit).
    size += 96 + 3 * (m.from.length + m.to.length + (m.context?.length ?? 0));
    for (const e of m.entries ?? []) size += 24 + e.data.length;
  }
  return size;
}
