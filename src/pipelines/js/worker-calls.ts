// Calls from JavaScript model code to other models, on the worker thread (Triton's BLS). ONNX models
// run straight on the shared native engine from this thread: the main thread publishes which native
// handle serves each model name (and version) and every change to it, and the worker attaches to the
// handle (engine.attach). Anything else (JavaScript models, ensembles, routes, models not loaded yet)
// goes to the main thread's repository over the worker's channel. A direct call that meets a version
// being unloaded re-reads the directory and retries on the version that replaced it.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Engine, type InferOutputs, type Model } from '../../engine/index.js';
import { TensorgateError, isTensorgateError } from '../../engine/errors.js';
import type { CallTrace } from '../../repository/backend.js';
import { enterChain } from '../calls.js';
import { fromWireError } from '../errors.js';
import { asBuffers, wireTensors, type WireTensors } from '../tensors.js';
import type { JsCallOptions, JsTensor } from './api.js';
import type { DirectoryEntry, FromWorker, ToWorker } from './protocol.js';

/** What a call inherits from the request whose execute makes it. */
export interface CallerContext {
  task: number;
  signal: AbortSignal;
  /** Local monotonic ms of the request's deadline; undefined: none. */
  deadlineMs: number | undefined;
  priority: number;
  trace: CallTrace | undefined;
  chain: readonly string[];
}

interface Pending {
  resolve(outputs: Record<string, JsTensor>): void;
  reject(err: Error): void;
}

/** Outputs as model code gets them: BYTES as Buffers. */
export function fromWire(tensors: WireTensors): Record<string, JsTensor> {
  const out: Record<string, JsTensor> = {};
  for (const name in tensors) {
    const t = tensors[name]!;
    out[name] = { ...(t.datatype ? { datatype: t.datatype } : {}), shape: t.shape, data: Array.isArray(t.data) ? asBuffers(t.data) : t.data };
  }
  return out;
}

export class WorkerCalls {
  readonly #port: MessagePort;
  readonly #directory = new Map<string, DirectoryEntry>();
  readonly #attached = new Map<number, Model>();
  readonly #pending = new Map<number, Pending>();
  readonly #onOther: (message: ToWorker) => void;
  #engine: Engine | undefined;
  #nextId = 1;

  /** `onOther` gets the channel's messages that are not about calls (aborts, finalize). */
  constructor(port: MessagePort, onOther: (message: ToWorker) => void) {
    this.#port = port;
    this.#onOther = onOther;
    port.on('message', (m: ToWorker) => this.#handle(m));
  }

  #handle(m: ToWorker): void {
    if (m.kind === 'models') {
      for (const [name, entry] of m.models) {
        if (entry) this.#directory.set(name, entry);
        else this.#directory.delete(name);
      }
      this.#forgetDetached();
    } else if (m.kind === 'reply') {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error) p.reject(fromWireError(m.error));
      else p.resolve(fromWire(m.outputs ?? {}));
    } else {
      this.#onOther(m);
    }
  }

  /** Reads what the main thread posted and this thread has not handled yet (directory changes first). */
  drain(): void {
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) this.#handle(m.message as ToWorker);
  }

  post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
    this.#port.postMessage(message, transfer);
  }

  /** Attachments to handles no model name maps to any more: dropped, so unloaded sessions can be freed. */
  #forgetDetached(): void {
    const live = new Set<number>();
    for (const e of this.#directory.values()) for (const [, h] of e.versions) live.add(h);
    for (const h of this.#attached.keys()) if (!live.has(h)) this.#attached.delete(h);
  }

  #handleFor(model: string, version: string | undefined): number | undefined {
    const entry = this.#directory.get(model);
    if (!entry) return undefined;
    if (version === undefined) return entry.latest;
    return entry.versions.find(([v]) => v === version)?.[1];
  }

  async infer(model: string, inputs: Record<string, JsTensor>, options: JsCallOptions, caller: CallerContext): Promise<Record<string, JsTensor>> {
    if (typeof model !== 'string' || model.length === 0) throw new TensorgateError('INVALID_ARGUMENT', 'infer(model, inputs): model must be a model name');
    if (caller.signal.aborted) throw new TensorgateError('ABORTED', `call to '${model}' not made: the calling request was cancelled`);
    enterChain(caller.chain, model); // refused here already when the chain is too deep
    const version = options.version === undefined ? undefined : String(options.version);
    let timeoutUs = 0;
    if (caller.deadlineMs !== undefined) {
      timeoutUs = Math.floor((caller.deadlineMs - performance.now()) * 1000);
      if (timeoutUs <= 0) throw new TensorgateError('TIMEOUT', `call to '${model}' not made: the calling request's deadline has passed`);
    }
    if (options.timeoutMs !== undefined && options.timeoutMs > 0 && (timeoutUs === 0 || options.timeoutMs * 1000 < timeoutUs)) timeoutUs = Math.floor(options.timeoutMs * 1000);
    const priority = options.priority ?? caller.priority;
    this.drain();
    const handle = this.#handleFor(model, version);
    if (handle !== undefined) {
      try {
        return await this.#direct(handle, inputs, options.outputs, timeoutUs, priority, caller.signal);
      } catch (err) {
        if (!isTensorgateError(err, 'UNAVAILABLE')) throw err;
        // The version is unloading: the one that replaced it was published before it retired.
        this.drain();
        const next = this.#handleFor(model, version);
        if (next !== undefined && next !== handle) return this.#direct(next, inputs, options.outputs, timeoutUs, priority, caller.signal);
      }
    }
    return this.#viaMain(model, version, inputs, options, timeoutUs, priority, caller);
  }

  async #direct(handle: number, inputs: Record<string, JsTensor>, outputs: string[] | undefined, timeoutUs: number, priority: number, signal: AbortSignal): Promise<Record<string, JsTensor>> {
    let model = this.#attached.get(handle);
    if (!model) {
      this.#engine ??= Engine.create();
      try {
        model = this.#engine.attach(handle);
      } catch (err) {
        throw new TensorgateError('UNAVAILABLE', `model handle ${handle} is gone: ${(err as Error).message}`);
      }
      this.#attached.set(handle, model);
    }
    const out: InferOutputs = await model.infer(inputs as Parameters<Model['infer']>[0], { outputs, timeoutUs, priority, signal });
    return out as Record<string, JsTensor>;
  }

  #viaMain(
    model: string,
    version: string | undefined,
    inputs: Record<string, JsTensor>,
    options: JsCallOptions,
    timeoutUs: number,
    priority: number,
    caller: CallerContext,
  ): Promise<Record<string, JsTensor>> {
    const id = this.#nextId++;
    const transfer = new Set<ArrayBuffer>();
    // The caller may reuse its arrays (pass one tensor to two models): copied, never moved.
    const wire = wireTensors(inputs, false, transfer);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.delete(id)) return;
        this.post({ kind: 'cancel', id });
        reject(new TensorgateError('ABORTED', `call to '${model}' cancelled: the calling request was cancelled`));
      };
      caller.signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => caller.signal.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        resolve: (o) => {
          done();
          resolve(o);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.post(
        {
          kind: 'call',
          id,
          task: caller.task,
          model,
          version,
          inputs: wire,
          outputs: options.outputs,
          timeoutUs,
          priority,
          trace: caller.trace,
          // The chain the call is made in; the called model adds itself.
          chain: [...caller.chain],
          parameters: options.parameters,
        },
        [...transfer],
      );
    });
  }
}
