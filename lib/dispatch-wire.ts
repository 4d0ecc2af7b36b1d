// The dispatcher protocol's wire form on gRPC (between hosts, mTLS with node
// certificates): method paths and a JSON codec, and how a SkiffError travels in a
// status's details. Messages are JSON: the protocol's types are the Docker API's JSON
// shapes already, so a protobuf schema would only restate them. grpc-js is imported for
// its types only: the server (manager/dispatcher) and the client (agent/worker) load it.
import type * as grpc from '@grpc/grpc-js';
import type {
  AssignmentsMessage,
  HeartbeatRequest,
  ImageSource,
  ImageSourcesRequest,
  PublishLogsRequest,
  PublishStatsRequest,
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
  publishLogs: method<PublishLogsRequest, Record<string, never>>('PublishLogs'),
  publishStats: method<PublishStatsRequest, Record<string, never>>('PublishStats'),
  imageSources: method<ImageSourcesRequest, { sources: ImageSource[] }>('ImageSources'),
} satisfies grpc.ServiceDefinition;

/** A SkiffError's code and message as they travel in a gRPC status's details: `code: message`. */
export function dispatchErrorDetails(e: unknown): { code: SkiffErrorCode; details: string; message: string } {
  const code: SkiffErrorCode = e instanceof SkiffError ? e.code : 'internal';
  const message = e instanceof Error ? e.message : String(e);
  return { code, message, details: `${code}: ${message}` };
}

/** The SkiffError a status's details carry, or undefined when they carry none. */
export function parseDispatchErrorDetails(details: string | undefined): SkiffError | undefined {
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(details ?? '');
  return m ? new SkiffError(m[1] as SkiffErrorCode, m[2] ?? '') : undefined;
}
