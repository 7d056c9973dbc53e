// The gRPC services tensorgate serves, as grpc-js method definitions: Triton's
// inference.GRPCInferenceService (proto/grpc_service.proto; the shared-memory, trace and log RPCs are
// left out, so grpc-js answers them UNIMPLEMENTED) and grpc.health.v1.Health/Check. ModelInfer and
// ModelStreamInfer carry raw bytes both ways: the request Buffer goes to the hand-written decoder
// untouched and the reply is already encoded (infer-codec.ts); every other message goes through its
// protobufjs codec (messages.ts).
import type { MethodDefinition } from '@grpc/grpc-js';
import type * as M from './message-types.js';
import { messages, type MessageCodec } from './messages.js';

export const INFERENCE_SERVICE_NAME = 'inference.GRPCInferenceService';
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

const identity = (bytes: Buffer): Buffer => bytes;

function unary<Req, Res>(service: string, name: string, request: MessageCodec<Req>, response: MessageCodec<Res>): MethodDefinition<Req, M.Init<Res>> {
  return {
    path: `/${service}/${name}`,
    originalName: name,
    requestStream: false,
    responseStream: false,
    requestDeserialize: (bytes) => request.decode(bytes),
    responseSerialize: (value) => response.encode(value),
    // The client side, for completeness (a decoded message is a valid encoder input).
    requestSerialize: (value) => request.encode(value as M.Init<Req>),
    responseDeserialize: (bytes) => response.decode(bytes) as M.Init<Res>,
  };
}

function raw(name: string, stream: boolean): MethodDefinition<Buffer, Buffer> {
  return {
    path: `/${INFERENCE_SERVICE_NAME}/${name}`,
    originalName: name,
    requestStream: stream,
    responseStream: stream,
    requestDeserialize: identity,
    responseSerialize: identity,
    requestSerialize: identity,
    responseDeserialize: identity,
  };
}

const S = INFERENCE_SERVICE_NAME;
const m = messages;

export const INFERENCE_SERVICE = {
  ServerLive: unary(S, 'ServerLive', m.ServerLiveRequest, m.ServerLiveResponse),
  ServerReady: unary(S, 'ServerReady', m.ServerReadyRequest, m.ServerReadyResponse),
  ModelReady: unary(S, 'ModelReady', m.ModelReadyRequest, m.ModelReadyResponse),
  ServerMetadata: unary(S, 'ServerMetadata', m.ServerMetadataRequest, m.ServerMetadataResponse),
  ModelMetadata: unary(S, 'ModelMetadata', m.ModelMetadataRequest, m.ModelMetadataResponse),
  ModelInfer: raw('ModelInfer', false),
  ModelStreamInfer: raw('ModelStreamInfer', true),
  ModelConfig: unary(S, 'ModelConfig', m.ModelConfigRequest, m.ModelConfigResponse),
  ModelStatistics: unary(S, 'ModelStatistics', m.ModelStatisticsRequest, m.ModelStatisticsResponse),
  RepositoryIndex: unary(S, 'RepositoryIndex', m.RepositoryIndexRequest, m.RepositoryIndexResponse),
  RepositoryModelLoad: unary(S, 'RepositoryModelLoad', m.RepositoryModelLoadRequest, m.RepositoryModelLoadResponse),
  RepositoryModelUnload: unary(S, 'RepositoryModelUnload', m.RepositoryModelUnloadRequest, m.RepositoryModelUnloadResponse),
} as const;

export const HEALTH_SERVICE = {
  // Watch (a server stream of status changes) is not served: grpc-js answers it UNIMPLEMENTED.
  Check: unary(HEALTH_SERVICE_NAME, 'Check', m.HealthCheckRequest, m.HealthCheckResponse),
} as const;

/** The unary control-plane methods (everything but the two inference RPCs), by name. */
export type ControlMethods = Omit<typeof INFERENCE_SERVICE, 'ModelInfer' | 'ModelStreamInfer'> & typeof HEALTH_SERVICE;
export type ControlMethodName = keyof ControlMethods;
/** The decoded request and the response to encode of a control method. */
export type RequestOf<K extends ControlMethodName> = ReturnType<ControlMethods[K]['requestDeserialize']>;
export type ResponseOf<K extends ControlMethodName> = Parameters<ControlMethods[K]['responseSerialize']>[0];
