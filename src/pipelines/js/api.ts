// What JavaScript model code sees: the module a version directory holds (model.js / model.mjs) exports
// initialize(args), execute(requests) and finalize(), like Triton's Python backend. These types are for
// authors who write their models in TypeScript and compile them; the server checks every response.
import type { DataType } from '../../engine/datatype.js';
import type { CallTrace } from '../../repository/backend.js';

/** A tensor: numeric data in the datatype's typed array, BYTES as Buffers (inputs) or strings/Uint8Arrays (outputs). */
export interface JsTensor {
  /** Optional in responses: the declared output's datatype is assumed. */
  datatype?: DataType;
  shape: number[];
  data: ArrayBufferView | Array<string | Uint8Array>;
}

export interface JsInitializeArgs {
  name: string;
  version: number;
  /** The version directory (files next to model.js). */
  dir: string;
  /** The model's config in Triton's JSON form. */
  config: Record<string, unknown>;
  /** config.parameters as plain strings. */
  parameters: Record<string, string>;
}

export interface JsCallOptions {
  /** A served version; default: the latest. */
  version?: string | number;
  /** Outputs to return; default: all. */
  outputs?: string[];
  /** Shorter than what is left of the calling request's deadline. */
  timeoutMs?: number;
  /** Default: the calling request's priority. */
  priority?: number;
  /** The called model's request parameters (a JavaScript model reads them as request.parameters). */
  parameters?: Record<string, unknown>;
}

export interface JsRequest {
  inputs: Record<string, JsTensor>;
  /** The outputs the caller asked for (undefined: all); returning more is allowed. */
  requestedOutputs: string[] | undefined;
  /** The request's own parameters. */
  parameters: Record<string, unknown>;
  id: string | undefined;
  priority: number;
  trace: CallTrace | undefined;
  /** Aborted when the request is cancelled or times out: stop early, calls made for it are cancelled too. */
  signal: AbortSignal;
  /** Milliseconds left before the request's deadline; undefined when it has none. */
  remainingMs(): number | undefined;
  /**
   * Runs any served model (ONNX, JavaScript, an ensemble, a route) with this request's deadline,
   * priority, cancellation and trace context, in-process: ONNX models run on the shared native engine
   * from this thread, others through the main thread's repository.
   */
  infer(model: string, inputs: Record<string, JsTensor>, options?: JsCallOptions): Promise<Record<string, JsTensor>>;
}

/** One response per request: its outputs, or an Error failing that request only (set `code` to choose the status). */
export type JsResponse = { outputs: Record<string, JsTensor> } | Error;

export interface JsModel {
  initialize?(args: JsInitializeArgs): void | Promise<void>;
  execute(requests: JsRequest[]): JsResponse[] | Promise<JsResponse[]>;
  finalize?(): void | Promise<void>;
}
