// The dispatcher protocol on gRPC (between hosts, mTLS with node certificates). Messages
// are JSON: the protocol's types are the Docker API's JSON shapes already, so a
// protobuf schema would only restate them.
import * as grpc from '@grpc/grpc-js';
import type {
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  RegisterRequest,
  RegisterResponse,
  UpdateTaskStatusRequest,
} from './dispatch.js';
import { SkiffError, type SkiffErrorCode } from './errors.js';

const encode = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const decode = <T>(b: Buffer): T => JSON.parse(b.toString('utf8')) as T;

function method<Req, Res>(name: string, responseStream = false) {
  return {
    path: `/skiff.Dispatcher/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (v: Req) => encode(v),
    requestDeserialize: (b: Buffer) => decode<Req>(b),
    responseSerialize: (v: Res) => encode(v),
    responseDeserialize: (b: Buffer) => decode<Res>(b),
  };
}

export const dispatcherService = {
  register: method<RegisterRequest, RegisterResponse>('Register'),
  heartbeat: method<HeartbeatRequest, { heartbeatPeriodMs: number }>('Heartbeat'),
  assignments: method<HeartbeatRequest, AssignmentsMessage>('Assignments', true),
  updateTaskStatus: method<UpdateTaskStatusRequest, Record<string, never>>('UpdateTaskStatus'),
} satisfies grpc.ServiceDefinition;

/** SkiffError codes travel in the status details as `code: message`. */
export function toGrpcError(e: unknown): grpc.ServiceError {
  const code: SkiffErrorCode = e instanceof SkiffError ? e.code : 'internal';
  const message = e instanceof Error ? e.message : String(e);
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
  return Object.assign(new Error(message), {
    code: status,
    details: `${code}: ${message}`,
    metadata: new grpc.Metadata(),
  });
}

function fromGrpcError(e: unknown): SkiffError {
  const err = e as grpc.ServiceError;
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(err.details ?? '');
  if (m) return new SkiffError(m[1] as SkiffErrorCode, m[2] ?? '');
  return new SkiffError('unavailable', `dispatcher unreachable: ${err.details || err.message}`);
}

const DispatcherClientCtor = grpc.makeGenericClientConstructor(dispatcherService, 'skiff.Dispatcher');

/** An agent's view of a remote dispatcher. */
export class GrpcDispatcherClient implements DispatcherApi {
  private readonly client: grpc.Client & Record<string, grpc.MethodDefinition<unknown, unknown>>;

  constructor(addr: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}) {
    this.client = new DispatcherClientCtor(addr, credentials, {
      'grpc.keepalive_time_ms': 10_000,
      ...options,
    }) as never;
  }

  close(): void {
    this.client.close();
  }

  register(req: RegisterRequest): Promise<RegisterResponse> {
    return this.unary('register', req);
  }

  heartbeat(req: HeartbeatRequest): Promise<{ heartbeatPeriodMs: number }> {
    return this.unary('heartbeat', req);
  }

  async updateTaskStatus(req: UpdateTaskStatusRequest): Promise<void> {
    await this.unary('updateTaskStatus', req);
  }

  async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    const call = (
      this.client as unknown as {
        assignments(r: HeartbeatRequest): grpc.ClientReadableStream<AssignmentsMessage>;
      }
    ).assignments(req);
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort);
    try {
      for await (const msg of call) yield msg as AssignmentsMessage;
    } catch (e) {
      if (!signal.aborted) throw fromGrpcError(e);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private unary<T>(name: 'register' | 'heartbeat' | 'updateTaskStatus', req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = (
        this.client as unknown as Record<
          string,
          (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void
        >
      )[name]!;
      fn.call(this.client, req, { deadline: Date.now() + 15_000 }, (e, v) =>
        e ? reject(fromGrpcError(e)) : resolve(v),
      );
    });
  }
}
