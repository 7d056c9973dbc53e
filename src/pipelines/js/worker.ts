// A JavaScript model's worker thread (run by piscina). At start it opens its channel to the main
// thread, imports the model file and runs its initialize(); the worker counts as ready only after that
// (a failing initialize fails the worker's start, and the main thread hears why). Each piscina task is
// one execute over a batch of requests; the responses go back with their buffers transferred.
import { pathToFileURL } from 'node:url';
import { MessageChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { elementCount } from '../../engine/datatype.js';
import { TensorgateError } from '../../engine/errors.js';
import { fromWireError, modelWireError, type WireError } from '../errors.js';
import { Arena, wireTensor, type WireTensors } from '../tensors.js';
import type { JsInitializeArgs, JsModel, JsRequest, JsResponse, JsTensor } from './api.js';
import type { HelloMessage, TaskMessage, TaskResult, ToWorker, WireResponse, WorkerSetup } from './protocol.js';
import { fromWire, WorkerCalls } from './worker-calls.js';

// Evaluated once per thread: piscina may try require() before import(), and a second evaluation would
// open a second channel and run initialize twice.
const flag = globalThis as { __tensorgateJsWorker?: boolean };
if (flag.__tensorgateJsWorker) throw new TensorgateError('INTERNAL', 'the JS worker module was evaluated twice');
flag.__tensorgateJsWorker = true;

const setup = workerData as WorkerSetup;
const { port1: port, port2 } = new MessageChannel();
parentPort!.postMessage({ kind: 'tensorgate:hello', threadId, port: port2 } satisfies HelloMessage, [port2]);

/**
 * A request's cancellation, made on first use: most executes never look at request.signal, and an
 * AbortController per request is not free.
 */
class Cancellation {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }
  abort(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** Cancellations of the requests of the tasks running here (tasks x request index). */
const running = new Map<number, Cancellation[]>();

let model: JsModel | undefined;

const calls = new WorkerCalls(port, (m: ToWorker) => {
  if (m.kind === 'abort') running.get(m.task)?.[m.index]?.abort(fromWireError(m.reason));
  else if (m.kind === 'finalize') void finalize();
});

async function finalize(): Promise<void> {
  let error: string | undefined;
  try {
    await model?.finalize?.();
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  calls.post({ kind: 'finalized', error });
}

/** The model's functions, from an ES module or a CommonJS one (module.exports = { execute, ... }). */
function modelExports(ns: Record<string, unknown>): JsModel {
  const direct = ns as Partial<JsModel>;
  const viaDefault = (ns.default ?? {}) as Partial<JsModel>;
  const source = typeof direct.execute === 'function' ? direct : viaDefault;
  if (typeof source.execute !== 'function') throw new Error(`${setup.file} does not export an execute(requests) function`);
  for (const f of ['initialize', 'finalize'] as const) {
    if (source[f] !== undefined && typeof source[f] !== 'function') throw new Error(`${setup.file}: export '${f}' is not a function`);
  }
  return source as JsModel;
}

try {
  const loaded = modelExports((await import(pathToFileURL(setup.file).href)) as Record<string, unknown>);
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries((setup.config.parameters ?? {}) as Record<string, { string_value: string }>)) parameters[k] = v.string_value;
  const args: JsInitializeArgs = { name: setup.name, version: setup.version, dir: setup.dir, config: setup.config, parameters };
  await loaded.initialize?.(args);
  model = loaded;
} catch (err) {
  calls.post({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
  throw err;
}
calls.post({ kind: 'ready' });

function request(task: number, wire: TaskMessage['requests'][number], cancellation: Cancellation): JsRequest {
  const deadlineMs = wire.remainingUs > 0 ? performance.now() + wire.remainingUs / 1000 : undefined;
  return {
    inputs: fromWire(wire.inputs),
    requestedOutputs: wire.outputs,
    parameters: wire.parameters ?? {},
    id: wire.id,
    priority: wire.priority,
    trace: wire.trace,
    get signal() {
      return cancellation.signal;
    },
    remainingMs: () => (deadlineMs === undefined ? undefined : Math.max(0, deadlineMs - performance.now())),
    infer: (name, inputs, options = {}) =>
      calls.infer(name, inputs, options, { task, signal: cancellation.signal, deadlineMs, priority: wire.priority, trace: wire.trace, chain: wire.chain }),
  };
}

function badResponse(index: number, message: string): WireResponse {
  return { error: { kind: 'INTERNAL', message: `${setup.name}: execute's response ${index}: ${message}` } };
}

/** One response as it goes back: outputs moved (their arrays now belong to the server), or the error. */
function response(value: JsResponse | undefined, index: number, transfer: Set<ArrayBuffer>, arena: Arena | undefined): WireResponse {
  if (value instanceof Error) return { error: modelWireError(value) };
  if (value === null || typeof value !== 'object') return badResponse(index, 'expected { outputs: { name: tensor } } or an Error');
  if ('error' in value && (value as { error: unknown }).error !== undefined) return { error: modelWireError((value as { error: unknown }).error) };
  const outputs = (value as { outputs?: unknown }).outputs;
  if (outputs === null || typeof outputs !== 'object') return badResponse(index, 'expected { outputs: { name: tensor } } or an Error');
  const wire: WireTensors = {};
  for (const [name, t] of Object.entries(outputs as Record<string, JsTensor>)) {
    if (t === null || typeof t !== 'object' || !Array.isArray(t.shape)) return badResponse(index, `output '${name}' is not a tensor { shape, data }`);
    const data = t.data as unknown;
    if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
      return badResponse(index, `output '${name}': data must be a typed array, or an array of strings/Uint8Arrays for BYTES`);
    }
    if (ArrayBuffer.isView(data) && data.byteLength === 0 && data.buffer.byteLength === 0 && elementCount(t.shape) > 0) {
      return badResponse(index, `output '${name}': its array is empty, as after an earlier response took it (outputs are moved to the server, not copied): return a new array, or a copy of one you keep`);
    }
    wire[name] = wireTensor(t as Parameters<typeof wireTensor>[0], true, transfer, arena);
  }
  return { outputs: wire };
}

export default async function run(task: TaskMessage): Promise<unknown> {
  const cancellations = task.requests.map(() => new Cancellation());
  running.set(task.task, cancellations);
  const requests = task.requests.map((r, i) => request(task.task, r, cancellations[i]!));
  const transfer = new Set<ArrayBuffer>();
  const t0 = performance.now();
  let result: TaskResult;
  try {
    const responses = await model!.execute(requests);
    const executeNs = (performance.now() - t0) * 1e6;
    if (!Array.isArray(responses) || responses.length !== requests.length) {
      const got = Array.isArray(responses) ? `${responses.length} responses` : `a ${responses === null ? 'null' : typeof responses}`;
      const error: WireError = { kind: 'INTERNAL', message: `${setup.name}: execute returned ${got} for ${requests.length} requests (one response per request)` };
      result = { executeNs, responses: undefined, error };
    } else {
      // Small outputs of the whole batch go back packed in one buffer.
      const small = Arena.bytesFor(responses.flatMap((r) => (r !== null && typeof r === 'object' && !(r instanceof Error) ? Object.values((r as { outputs?: Record<string, JsTensor> }).outputs ?? {}).map((t) => t?.data) : [])));
      const arena = small > 0 ? new Arena(small) : undefined;
      if (arena) transfer.add(arena.buffer);
      result = { executeNs, responses: responses.map((r, i) => response(r, i, transfer, arena)), error: undefined };
    }
  } catch (err) {
    result = { executeNs: (performance.now() - t0) * 1e6, responses: undefined, error: modelWireError(err) };
  } finally {
    running.delete(task.task);
  }
  if (transfer.size === 0) return result;
  return Piscina.move({ [Piscina.transferableSymbol]: [...transfer], [Piscina.valueSymbol]: result } as never);
}
