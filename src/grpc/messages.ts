// The control-plane messages of the gRPC front (everything but ModelInfer/ModelStreamInfer, see
// infer-codec.ts), encoded and decoded by protobufjs from the proto files, which are the one
// definition of the wire format. Small, rare messages: reflection's cost does not matter here.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type * as M from './message-types.js';
import { int64Value } from './wire.js';

/** One message type's (de)serializers, in the form grpc-js's service definitions take. */
export interface MessageCodec<T> {
  /** The fully-qualified protobuf name, e.g. "inference.ModelReadyRequest". */
  readonly typeName: string;
  encode(value: M.Init<T>): Buffer;
  decode(bytes: Uint8Array): T;
}

// Both files sit in <package>/proto; this module is two levels below the package root in src/
// (tsx) and in dist/ (tsc) alike.
const PROTO_FILES = ['grpc_service.proto', 'health.proto'].map((f) => fileURLToPath(new URL(`../../proto/${f}`, import.meta.url)));

/** The parsed proto files, with proto field names (keepCase), e.g. for the service's method list. */
export const protoRoot: protobuf.Root = new protobuf.Root().loadSync(PROTO_FILES, { keepCase: true });
protoRoot.resolveAll();

/** How decoded messages look (see message-types.ts): exact 64-bit values, enum names, defaults. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true };

function codec<T>(typeName: string, fromWire?: (value: T) => void): MessageCodec<T> {
  const type = protoRoot.lookupType(typeName);
  return {
    typeName,
    encode(value) {
      const bytes = type.encode(type.fromObject(value as Record<string, unknown>)).finish();
      return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    decode(bytes) {
      const value = type.toObject(type.decode(bytes), TO_OBJECT) as T;
      fromWire?.(value);
      return value;
    },
  };
}

/** The codec of every control-plane message, by its proto name. */
export const messages = {
  ServerLiveRequest: codec<M.Empty>('inference.ServerLiveRequest'),
  ServerLiveResponse: codec<M.ServerLiveResponse>('inference.ServerLiveResponse'),
  ServerReadyRequest: codec<M.Empty>('inference.ServerReadyRequest'),
  ServerReadyResponse: codec<M.ServerReadyResponse>('inference.ServerReadyResponse'),
  ModelReadyRequest: codec<M.ModelRequest>('inference.ModelReadyRequest'),
  ModelReadyResponse: codec<M.ModelReadyResponse>('inference.ModelReadyResponse'),
  ServerMetadataRequest: codec<M.Empty>('inference.ServerMetadataRequest'),
  ServerMetadataResponse: codec<M.ServerMetadataResponse>('inference.ServerMetadataResponse'),
  ModelMetadataRequest: codec<M.ModelRequest>('inference.ModelMetadataRequest'),
  ModelMetadataResponse: codec<M.ModelMetadataResponse>('inference.ModelMetadataResponse'),
  ModelConfigRequest: codec<M.ModelRequest>('inference.ModelConfigRequest'),
  ModelConfigResponse: codec<M.ModelConfigResponse>('inference.ModelConfigResponse', (r) => {
    if (r.config) decimalPriorityKeys(r.config);
  }),
  ModelStatisticsRequest: codec<M.ModelRequest>('inference.ModelStatisticsRequest'),
  ModelStatisticsResponse: codec<M.ModelStatisticsResponse>('inference.ModelStatisticsResponse'),
  RepositoryIndexRequest: codec<M.RepositoryIndexRequest>('inference.RepositoryIndexRequest'),
  RepositoryIndexResponse: codec<M.RepositoryIndexResponse>('inference.RepositoryIndexResponse'),
  RepositoryModelLoadRequest: codec<M.RepositoryModelRequest>('inference.RepositoryModelLoadRequest'),
  RepositoryModelLoadResponse: codec<M.Empty>('inference.RepositoryModelLoadResponse'),
  RepositoryModelUnloadRequest: codec<M.RepositoryModelRequest>('inference.RepositoryModelUnloadRequest'),
  RepositoryModelUnloadResponse: codec<M.Empty>('inference.RepositoryModelUnloadResponse'),
  HealthCheckRequest: codec<M.HealthCheckRequest>('grpc.health.v1.HealthCheckRequest'),
  HealthCheckResponse: codec<M.HealthCheckResponse>('grpc.health.v1.HealthCheckResponse'),
} as const;

export type MessageName = keyof typeof messages;

/**
 * A model's effective config (Triton's JSON form, snake_case, as GET /v2/models/{m}/config returns
 * it) as a ModelConfig message for ModelConfigResponse: keys the proto does not declare are dropped
 * (tensorgate's own, such as response_cache.ttl_s, and Triton's that tensorgate does not serve);
 * 64-bit fields accept numbers or decimal strings; enums go by name.
 * @throws TypeError when a declared field has the wrong shape (e.g. `dims` not an array)
 */
export function modelConfigToProto(config: Readonly<Record<string, unknown>>): M.Init<M.ModelConfigMessage> {
  const type = protoRoot.lookupType('inference.ModelConfig');
  return type.toObject(type.fromObject(config), { longs: String, enums: String }) as M.Init<M.ModelConfigMessage>;
}

/** A repository parameter's value; int64 as a number while safe, else its decimal string. */
export type RepositoryParameterValue = boolean | number | string | Buffer;

/** The RepositoryModelLoad/Unload parameters as plain values; members without a value are left out. */
export function repositoryParameters(parameters: Readonly<Record<string, M.ModelRepositoryParameter>>): Record<string, RepositoryParameterValue> {
  const out = Object.create(null) as Record<string, RepositoryParameterValue>;
  for (const [key, p] of Object.entries(parameters)) {
    const value =
      p.bool_param ?? p.string_param ?? p.bytes_param ?? (p.int64_param === undefined ? undefined : exactInt(p.int64_param));
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function exactInt(value: M.Int64): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : String(value);
}

/**
 * protobufjs decodes the keys of a map<uint64, ...> as 8-character hashes of the value, not as
 * numbers: turn priority_queue_policy's back into decimal.
 */
function decimalPriorityKeys(config: M.ModelConfigMessage): void {
  const policies = config.dynamic_batching?.priority_queue_policy;
  if (!policies) return;
  const fixed: Record<string, M.ModelQueuePolicy> = {};
  for (const [hash, policy] of Object.entries(policies)) {
    const bits = protobuf.util.LongBits.fromHash(hash);
    fixed[String(int64Value(bits.lo >>> 0, bits.hi >>> 0, true))] = policy;
  }
  config.dynamic_batching!.priority_queue_policy = fixed;
}
