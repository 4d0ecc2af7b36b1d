// An agent's view of a dispatcher on another host: the dispatcher protocol (lib's
// dispatch-wire) over gRPC with mutual TLS.
import * as grpc from '@grpc/grpc-js';
import type {
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  ImageSource,
  ImageSourcesRequest,
  PublishLogsRequest,
  PublishStatsRequest,
  RegisterRequest,
  RegisterResponse,
  UpdateTaskStatusRequest,
} from '../../lib/index.js';
import { dispatcherService, parseDispatchErrorDetails, SkiffError } from '../../lib/index.js';

function fromGrpcError(e: unknown): SkiffError {
  const err = e as grpc.ServiceError;
  return (
    parseDispatchErrorDetails(err.details) ??
    new SkiffError('unavailable', `dispatcher unreachable: ${err.details || err.message}`)
  );
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

  /** Waits as long as the manager's reader is slow (its backpressure), up to 5 minutes. */
  async publishLogs(req: PublishLogsRequest): Promise<void> {
    await this.unary('publishLogs', req, 300_000);
  }

  async publishStats(req: PublishStatsRequest): Promise<void> {
    await this.unary('publishStats', req);
  }

  imageSources(req: ImageSourcesRequest): Promise<{ sources: ImageSource[] }> {
    return this.unary('imageSources', req);
  }

  async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    const call = (
      this.client as unknown as {
        assignments(r: HeartbeatRequest): grpc.ClientReadableStream<AssignmentsMessage>;
      }
    ).assignments(req);
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort);
    // Aborted before the call: no abort event will come to cancel it.
    if (signal.aborted) call.cancel();
    try {
      for await (const msg of call) yield msg as AssignmentsMessage;
    } catch (e) {
      if (!signal.aborted) throw fromGrpcError(e);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private unary<T>(
    name: 'register' | 'heartbeat' | 'updateTaskStatus' | 'publishLogs' | 'publishStats' | 'imageSources',
    req: unknown,
    timeoutMs = 15_000,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = (
        this.client as unknown as Record<
          string,
          (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void
        >
      )[name]!;
      fn.call(this.client, req, { deadline: Date.now() + timeoutMs }, (e, v) =>
        e ? reject(fromGrpcError(e)) : resolve(v),
      );
    });
  }
}
