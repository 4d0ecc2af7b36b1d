// Serves the dispatcher to agents on other hosts over gRPC. The node a call speaks
// for is the one named in its client certificate (the CN the CA wrote), never what
// the message claims.

import type { PeerCertificate } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';

/** What grpc-js tells a server about the peer's transport. */
interface AuthContext {
  sslPeerCertificate?: PeerCertificate;
}

import { dispatcherService, toGrpcError } from '../../lib/dispatch-grpc.js';
import type {
  DispatcherApi,
  HeartbeatRequest,
  RegisterRequest,
  UpdateTaskStatusRequest,
} from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

/** Reads the node ID from the peer's certificate; tests without TLS may pass a stub. */
export type PeerIdentity = (call: { getAuthContext(): AuthContext }) => string;

export const certificateIdentity: PeerIdentity = (call) => {
  const cert = call.getAuthContext().sslPeerCertificate;
  const cn = cert?.subject?.CN;
  const nodeId = Array.isArray(cn) ? cn[0] : cn;
  if (!nodeId)
    throw new SkiffError('unauthorized', 'a client certificate issued by the cluster CA is required');
  return nodeId;
};

export function addDispatcherService(
  server: grpc.Server,
  dispatcher: DispatcherApi,
  identity: PeerIdentity = certificateIdentity,
): void {
  const own = <T extends { nodeId: string }>(call: { getAuthContext(): AuthContext; request: T }): T => {
    const nodeId = identity(call);
    if (call.request.nodeId !== nodeId) {
      throw new SkiffError('forbidden', `node ${nodeId} cannot speak for node ${call.request.nodeId}`);
    }
    return call.request;
  };
  const unary =
    <Req extends { nodeId: string }, Res>(fn: (r: Req) => Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
      let req: Req;
      try {
        req = own(call);
      } catch (e) {
        cb(toGrpcError(e));
        return;
      }
      fn(req).then(
        (v) => cb(null, v),
        (e: unknown) => cb(toGrpcError(e)),
      );
    };
  server.addService(dispatcherService, {
    register: unary((r: RegisterRequest) => dispatcher.register(r)),
    heartbeat: unary((r: HeartbeatRequest) => dispatcher.heartbeat(r)),
    updateTaskStatus: unary(async (r: UpdateTaskStatusRequest) => {
      await dispatcher.updateTaskStatus(r);
      return {};
    }),
    assignments: (call: grpc.ServerWritableStream<HeartbeatRequest, unknown>) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      call.on('close', () => abort.abort());
      void (async () => {
        try {
          const req = own(call);
          for await (const msg of dispatcher.assignments(req, abort.signal)) {
            if (!call.write(msg)) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        } catch (e) {
          if (!abort.signal.aborted) call.destroy(toGrpcError(e));
        }
      })();
    },
  });
}
