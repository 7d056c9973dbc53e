// A gRPC client for the tests, independent of the server's codecs: a plain grpc-js Client whose
// messages protobufjs encodes and decodes by reflection on the proto files (the server's
// ModelInfer path uses the hand-written codec, so every inference test cross-checks the two).
// Also raw-bytes calls (for malformed messages and streams) and readers for inference responses.
import { join, resolve } from 'node:path';
import { Client, credentials, Metadata, type CallOptions, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { expect } from 'vitest';

const PROTO_DIR = resolve(import.meta.dirname, '..', '..', 'proto');
export const root = new protobuf.Root().loadSync(['grpc_service.proto', 'health.proto'].map((f) => join(PROTO_DIR, f)), { keepCase: true });
root.resolveAll();

/** Decoded messages: 64-bit integers and enums as strings, every field present. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true };

const INFERENCE = root.lookupService('inference.GRPCInferenceService');
const HEALTH = root.lookupService('grpc.health.v1.Health');

function lookup(method: string): { path: string; request: protobuf.Type; response: protobuf.Type } {
  const service = method === 'Check' ? HEALTH : INFERENCE;
  const m = service.methods[method];
  if (!m) throw new Error(`no method ${method}`);
  return { path: `/${service.fullName.slice(1)}/${method}`, request: m.resolvedRequestType!, response: m.resolvedResponseType! };
}

export function encode(typeName: string, value: object): Buffer {
  const type = root.lookupType(typeName);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

export function decode(typeName: string, bytes: Uint8Array): any {
  const type = root.lookupType(typeName);
  return type.toObject(type.decode(bytes), TO_OBJECT);
}

export const encodeInferRequest = (request: object): Buffer => encode('inference.ModelInferRequest', request);
export const decodeInferResponse = (bytes: Uint8Array): any => decode('inference.ModelInferResponse', bytes);
export const decodeStreamResponse = (bytes: Uint8Array): any => decode('inference.ModelStreamInferResponse', bytes);

export interface CallOpts {
  metadata?: Record<string, string>;
  /** Milliseconds from now. */
  deadlineMs?: number;
  /** Cancels the call (client-side cancel: RST_STREAM to the server). */
  signal?: AbortSignal;
}

const identity = (b: Buffer): Buffer => b;

export class GrpcClient {
  readonly client: Client;

  constructor(port: number) {
    // No client-side size limits: the server's are the ones under test. Each client its own
    // connection (grpc-js shares them between clients of the same target by default).
    this.client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  /** A unary call with protobufjs messages; rejects with the ServiceError. */
  unary(method: string, request: object = {}, opts: CallOpts = {}): Promise<any> {
    const { path, request: reqType, response } = lookup(method);
    return this.#call(
      path,
      (v: object) => Buffer.from(reqType.encode(reqType.fromObject(v)).finish()),
      (b: Buffer) => response.toObject(response.decode(b), TO_OBJECT),
      request,
      opts,
    );
  }

  /** ModelInfer (or any method, or a full path '/package.Service/Method') with the request and response as bytes. */
  raw(method: string, bytes: Buffer, opts: CallOpts = {}): Promise<Buffer> {
    return this.#call(method.startsWith('/') ? method : lookup(method).path, identity, identity, bytes, opts);
  }

  /** ModelInfer: the request encoded by protobufjs, the response decoded by it. */
  async infer(request: object, opts: CallOpts = {}): Promise<any> {
    return decodeInferResponse(await this.raw('ModelInfer', encodeInferRequest(request), opts));
  }

  /** A ModelStreamInfer call carrying bytes both ways. */
  stream(opts: CallOpts = {}): ClientDuplexStream<Buffer, Buffer> {
    return this.client.makeBidiStreamRequest(lookup('ModelStreamInfer').path, identity, identity, metadataOf(opts), callOptions(opts));
  }

  close(): void {
    this.client.close();
  }

  #call<Req, Res>(path: string, serialize: (v: Req) => Buffer, deserialize: (b: Buffer) => Res, request: Req, opts: CallOpts): Promise<Res> {
    return new Promise((resolvePromise, reject) => {
      const call = this.client.makeUnaryRequest(path, serialize, deserialize, request, metadataOf(opts), callOptions(opts), (err, value) => {
        if (err) reject(err);
        else resolvePromise(value!);
      });
      opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }
}

function metadataOf(opts: CallOpts): Metadata {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata.set(k, v);
  return metadata;
}

function callOptions(opts: CallOpts): CallOptions {
  return opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
}

/** The ServiceError a call fails with (fails the test if it succeeds). */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded');
}

/** Expects a call to fail with `code` (a grpc-js status) and exactly `details` (or details matching it). */
export async function expectStatus(call: Promise<unknown>, code: number, details?: string | RegExp): Promise<ServiceError> {
  const err = await failure(call);
  const want = details === undefined ? expect.any(String) : typeof details === 'string' ? details : expect.stringMatching(details);
  expect({ code: err.code, details: err.details }).toEqual({ code, details: want });
  return err;
}

export interface RawOutput {
  datatype: string;
  shape: number[];
  /** The output's raw_output_contents entry. */
  raw: Buffer;
}

/** A decoded ModelInferResponse's outputs by name, with their raw bytes. */
export function outputsOf(response: any): Record<string, RawOutput> {
  const out: Record<string, RawOutput> = {};
  expect(response.raw_output_contents).toHaveLength(response.outputs.length);
  response.outputs.forEach((o: any, i: number) => {
    out[o.name] = { datatype: o.datatype, shape: o.shape.map(Number), raw: Buffer.from(response.raw_output_contents[i]) };
  });
  return out;
}

/** Float32 values of raw bytes. */
export function f32(raw: Buffer): number[] {
  return Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)));
}

/** Raw bytes of a typed array (copy-free). */
export function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
