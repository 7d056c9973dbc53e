// A loaded model: metadata, inference and statistics. Each infer() is validated and handed to the
// native scheduler on this thread; ORT runs on the model's runner threads, never on the event loop.
import type { NativeInputData, NativeModel, NativeModelStats, NativeProviderStatus } from './binding.js';
import { releaseSlot, settleEarly, takeSlot, type InferTimings } from './completions.js';
import { TensorgateError } from './errors.js';
import { InputSpec } from './input-check.js';
import type { InferInputs, InferOutputs, TensorMetadata } from './tensor.js';

/** What infer() needs of an AbortSignal (an AbortSignal is one). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface InferOptions {
  /** Outputs to return (default: all). */
  outputs?: readonly string[] | undefined;
  /** Abort: a queued request is dropped without running; the promise rejects with ABORTED. */
  signal?: AbortSignalLike | undefined;
  /** Queue timeout in milliseconds (Triton semantics: the time allowed before it is scheduled). */
  timeoutMs?: number | undefined;
  /** Queue timeout in microseconds (as the v2 protocol's `timeout` parameter). */
  timeoutUs?: number | undefined;
  /** Priority level, 1 = highest; 0 = the model's default. */
  priority?: number | undefined;
  /** Filled with where the request spent its time in the engine (queue, compute, batch size). */
  timings?: InferTimings | undefined;
}

export type { InferTimings };

export interface ModelMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Requested execution providers, in order, with why any was skipped. */
  providers: NativeProviderStatus[];
  /** The effective max_batch_size (after autoMaxBatchSize), 0 when the model does not batch. */
  maxBatchSize: number;
  dynamicBatching: boolean;
  producer: string;
  graphName: string;
  domain: string;
  description: string;
  customMetadata: Record<string, string>;
}

export type ModelStats = NativeModelStats;

export class Model {
  readonly metadata: ModelMetadata;
  readonly #native: NativeModel;
  readonly #inputs: InputSpec;
  readonly #outputIndex: Map<string, number>;
  readonly #outputNames: string[];
  /** Where each input's dims start in the native shape mailbox. */
  readonly #dimOffsets: number[];
  /** Reused argument list: the native side reads it synchronously. */
  readonly #datas: NativeInputData[];

  /** @internal Use Engine.load() or Engine.attach(). */
  constructor(native: NativeModel) {
    this.#native = native;
    const info = native.info();
    this.metadata = {
      inputs: info.inputs,
      outputs: info.outputs,
      providers: info.providers,
      maxBatchSize: info.maxBatchSize,
      dynamicBatching: info.dynamicBatching,
      producer: info.producer,
      graphName: info.graphName,
      domain: info.domain,
      description: info.description,
      customMetadata: info.customMetadata,
    };
    this.#inputs = new InputSpec(info.inputs);
    this.#outputNames = info.outputs.map((t) => t.name);
    let offset = 0;
    this.#dimOffsets = info.inputs.map((t) => (offset += t.shape.length) - t.shape.length);
    this.#datas = new Array<NativeInputData>(info.inputs.length);
    this.#outputIndex = new Map(info.outputs.map((t, i) => [t.name, i]));
  }

  /** Process-wide id: pass it to a worker_thread and call engine.attach(handle) there to share this model. */
  get handle(): number {
    return this.#native.id;
  }

  /** False once unload() has begun. */
  get accepting(): boolean {
    return this.#native.accepting;
  }

  infer(inputs: InferInputs, options: InferOptions = {}): Promise<InferOutputs> {
    try {
      return this.#submit(inputs, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #submit(inputs: InferInputs, options: InferOptions): Promise<InferOutputs> {
    const spec = this.#inputs;
    const datas = this.#datas;
    const mailbox = this.#native.shapes;
    let given = 0;
    for (const name in inputs) {
      const tensor = inputs[name]!;
      const index = spec.check(name, tensor);
      const shape = tensor.shape;
      const at = this.#dimOffsets[index]!;
      for (let d = 0; d < shape.length; d++) mailbox[at + d] = shape[d]!;
      datas[index] = tensor.data;
      ++given;
    }
    if (given !== spec.names.length) throw spec.missing((n) => n in inputs);
    const outputs = options.outputs ? this.#outputIndices(options.outputs) : null;
    const timeoutUs = options.timeoutUs ?? (options.timeoutMs !== undefined ? options.timeoutMs * 1000 : 0);
    const priority = options.priority ?? 0;
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);

    let resolve!: (out: InferOutputs) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<InferOutputs>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const slot = takeSlot({ resolve, reject, outputNames: this.#outputNames, inputs, settled: false, timings: options.timings });
    try {
      const native = this.#native;
      if (datas.length === 1) native.submit(slot, priority, timeoutUs, outputs, signal !== undefined, datas[0]!);
      else native.submit(slot, priority, timeoutUs, outputs, signal !== undefined, ...datas);
    } catch (err) {
      releaseSlot(slot);
      throw err;
    }
    if (signal) {
      const onAbort = (): void => {
        if (settleEarly(slot, abortError(signal))) this.#native.cancel(slot);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal.removeEventListener('abort', onAbort);
      promise.then(done, done);
    }
    return promise;
  }

  #outputIndices(names: readonly string[]): Int32Array {
    const indices = new Int32Array(names.length);
    names.forEach((name, i) => {
      const index = this.#outputIndex.get(name);
      if (index === undefined) {
        const known = [...this.#outputIndex.keys()].join(', ');
        throw new TensorgateError('INVALID_ARGUMENT', `unknown output '${name}' (model outputs: ${known})`);
      }
      indices[i] = index;
    });
    return indices.sort().filter((v, i, a) => i === 0 || a[i - 1] !== v);
  }

  /** Cumulative counters, read from the native scheduler (cheap: no per-request JS work). */
  stats(): ModelStats {
    return this.#native.stats();
  }

  /**
   * Stops accepting requests, completes every accepted one, then frees the session. Affects every
   * thread that shares this model.
   */
  unload(): Promise<void> {
    return this.#native.unload();
  }
}

function abortError(signal: AbortSignalLike): TensorgateError {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new TensorgateError('ABORTED', `inference aborted${reason}`);
}
