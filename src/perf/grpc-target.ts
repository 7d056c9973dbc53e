// The gRPC side of `tensorgate perf`: ModelInfer with a pre-encoded request (raw bytes both ways: the
// reply is only checked for a status), metadata, config and statistics through the server's own
// message codecs. One HTTP/2 connection carries every outstanding call, as grpc-js does.
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { DataType } from '../engine/datatype.js';
import { messages, type MessageCodec } from '../grpc/messages.js';
import type { ModelInfo, Payload } from './inputs.js';
import { countersOf, type Outcome, type Sender, type ServerCounters, type Target } from './target.js';

const SERVICE = '/inference.GRPCInferenceService';
const identity = (b: Buffer): Buffer => b;

export class GrpcTarget implements Target {
  readonly protocol = 'grpc' as const;
  readonly #client: Client;
  readonly #metadata: Metadata;
  readonly #request: { name: string; version: string };

  constructor(url: string, model: string, version: string | undefined, headers: Record<string, string>) {
    this.#client = new Client(url, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
    this.#metadata = new Metadata();
    for (const [k, v] of Object.entries(headers)) this.#metadata.set(k, v);
    this.#request = { name: model, version: version ?? '' };
  }

  #unary<Req, Res>(method: string, request: MessageCodec<Req>, response: MessageCodec<Res>, value: Parameters<MessageCodec<Req>['encode']>[0]): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(`${SERVICE}/${method}`, (v: typeof value) => request.encode(v), (b: Buffer) => response.decode(b), value, this.#metadata, (err: ServiceError | null, res?: Res) =>
        err ? reject(new Error(`${method}: ${err.details || err.message}`)) : resolve(res!),
      );
    });
  }

  async info(): Promise<ModelInfo> {
    const meta = await this.#unary('ModelMetadata', messages.ModelMetadataRequest, messages.ModelMetadataResponse, this.#request);
    const config = await this.#unary('ModelConfig', messages.ModelConfigRequest, messages.ModelConfigResponse, this.#request).catch(() => undefined);
    return {
      inputs: meta.inputs.map((t) => ({ name: t.name, datatype: t.datatype as DataType, shape: t.shape.map(Number) })),
      outputs: meta.outputs.map((t) => t.name),
      maxBatchSize: Number(config?.config?.max_batch_size ?? 0),
    };
  }

  async counters(): Promise<ServerCounters | undefined> {
    try {
      const stats = await this.#unary('ModelStatistics', messages.ModelStatisticsRequest, messages.ModelStatisticsResponse, this.#request);
      return countersOf(stats.model_stats as unknown as Array<Record<string, unknown>>);
    } catch {
      return undefined;
    }
  }

  async sender(): Promise<Sender> {
    const client = this.#client;
    const metadata = this.#metadata;
    return {
      alive: true,
      send: (payload: Payload) =>
        new Promise<Outcome>((resolve) => {
          client.makeUnaryRequest(`${SERVICE}/ModelInfer`, identity, identity, payload.body, metadata, (err: ServiceError | null) =>
            resolve(err ? { ok: false, error: `gRPC ${err.code}: ${err.details || err.message}` } : { ok: true }),
          );
        }),
      close: () => undefined,
    };
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
