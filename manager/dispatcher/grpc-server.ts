// Serves the dispatcher to agents on other hosts over gRPC. The node a call speaks
// for is the one named in its client certificate (the CN the CA wrote), never what
// the message claims.

import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/** What grpc-js tells a server about the peer's transport. */
interface AuthContext {
  sslPeerCertificate?: PeerCertificate;
}

import type {
  DispatcherApi,
  HeartbeatRequest,
  ImageSourcesRequest,
  PublishLogsRequest,
  PublishStatsRequest,
  RegisterRequest,
  UpdateTaskStatusRequest,
} from '../../lib/index.js';
import { dispatchErrorDetails, dispatcherService, SkiffError } from '../../lib/index.js';

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
    publishLogs: unary(async (r: PublishLogsRequest) => {
      await dispatcher.publishLogs(r);
      return {};
    }),
    publishStats: unary(async (r: PublishStatsRequest) => {
      await dispatcher.publishStats(r);
      return {};
    }),
    imageSources: unary((r: ImageSourcesRequest) => dispatcher.imageSources(r)),
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

/** A SkiffError as a gRPC status: its code mapped, code and message in the details. */
export function toGrpcError(e: unknown): grpc.ServiceError {
  const { code, message, details } = dispatchErrorDetails(e);
  const status =
    code === 'unauthorized'
      ? grpc.status.UNAUTHENTICATED
      : code === 'forbidden'
        ? grpc.status.PERMISSION_DENIED
        : code === 'not_found'
          ? grpc.status.NOT_FOUND
          : code === 'invalid_argument'
            ? grpc.status.INVALID_ARGUMENT
            : code === 'failed_precondition'
              ? grpc.status.FAILED_PRECONDITION
              : code === 'unavailable' || code === 'not_leader'
                ? grpc.status.UNAVAILABLE
                : grpc.status.INTERNAL;
  return Object.assign(new Error(message), { code: status, details, metadata: new grpc.Metadata() });
}
