// The main thread's side of calls from JavaScript models. It tells every JavaScript model worker which
// native model handle serves each ONNX model name and version (a snapshot when the worker starts, then
// every change as the repository makes it: a swap publishes the new version before the old one
// retires), so workers run ONNX models directly; and it serves the calls workers send here (JavaScript
// models, ensembles, routes, models not loaded yet) through the repository, with leases, deadline,
// priority, trace context and the waiting task, answered over the worker's channel.
import type { MessagePort } from 'node:worker_threads';
import { Model } from '../engine/model.js';
import type { CallWaiter, ModelAccess, ServableInferOptions } from '../repository/backend.js';
import type { ServedVersion } from '../repository/model-entry.js';
import { toWireError } from './errors.js';
import type { CallRequest, DirectoryEntry, ToWorker } from './js/protocol.js';
import { asBuffers, wireTensors } from './tensors.js';

/** A worker's channel as the directory uses it. */
export interface DirectoryLink {
  readonly port: MessagePort;
  /** Calls this worker made that are still being served (cancel and worker exit abort them). */
  readonly calls: Map<number, AbortController>;
}

const directories = new WeakMap<ModelAccess, ModelDirectory>();

function sameEntry(a: DirectoryEntry | undefined, b: DirectoryEntry | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ModelDirectory {
  readonly #models: ModelAccess;
  readonly #entries = new Map<string, DirectoryEntry>();
  readonly #links = new Set<DirectoryLink>();

  /** The directory of a repository (one per repository, made on first use). */
  static of(models: ModelAccess): ModelDirectory {
    let d = directories.get(models);
    if (!d) directories.set(models, (d = new ModelDirectory(models)));
    return d;
  }

  private constructor(models: ModelAccess) {
    this.#models = models;
    for (const s of models.allServed()) this.#entries.set(s.name, this.#entryOf(s.name)!);
    for (const [name, e] of [...this.#entries]) if (e.versions.length === 0) this.#entries.delete(name);
    models.watch((change) => this.#refresh(change.version.name));
  }

  #entryOf(name: string): DirectoryEntry | undefined {
    const native = this.#models.served(name).filter((s): s is ServedVersion & { model: Model } => s.model instanceof Model);
    if (native.length === 0) return undefined;
    const latest = this.#models.served(name)[0];
    return {
      latest: latest?.model instanceof Model ? latest.model.handle : undefined,
      versions: native.map((s) => [s.versionLabel, s.model.handle]),
    };
  }

  #refresh(name: string): void {
    const next = this.#entryOf(name);
    if (sameEntry(next, this.#entries.get(name))) return;
    if (next) this.#entries.set(name, next);
    else this.#entries.delete(name);
    const message: ToWorker = { kind: 'models', models: [[name, next ?? null]] };
    for (const link of this.#links) link.port.postMessage(message);
  }

  /** Starts telling `link` about changes, beginning with everything known now. */
  attach(link: DirectoryLink): void {
    this.#links.add(link);
    link.port.postMessage({ kind: 'models', models: [...this.#entries] } satisfies ToWorker);
  }

  detach(link: DirectoryLink): void {
    this.#links.delete(link);
    for (const c of link.calls.values()) c.abort(new Error('the calling worker exited'));
    link.calls.clear();
  }

  /** Serves one call a worker made; the answer goes back over its channel. */
  async serve(link: DirectoryLink, call: CallRequest, waiter: CallWaiter | undefined): Promise<void> {
    const controller = new AbortController();
    link.calls.set(call.id, controller);
    let reply: ToWorker;
    const transfer = new Set<ArrayBuffer>();
    try {
      const leased = this.#models.acquire(call.model, call.version);
      const served = leased instanceof Promise ? await leased : leased;
      try {
        const inputs: Record<string, { datatype?: never; shape: number[]; data: never }> = {};
        for (const [name, t] of Object.entries(call.inputs)) {
          inputs[name] = { ...(t.datatype ? { datatype: t.datatype as never } : {}), shape: t.shape, data: (Array.isArray(t.data) ? asBuffers(t.data) : t.data) as never };
        }
        const options: ServableInferOptions = {
          outputs: call.outputs,
          timeoutUs: call.timeoutUs,
          priority: call.priority,
          signal: controller.signal,
          trace: call.trace,
          chain: call.chain,
          waiter,
          parameters: call.parameters,
          donateInputs: true,
        };
        // A route answers through the inference stages (its choice of target, its fallback chain).
        const outputs = served.model.throughService ? await this.#models.call(call.model, call.version, inputs, options) : await served.model.infer(inputs, options);
        reply = { kind: 'reply', id: call.id, outputs: wireTensors(outputs, true, transfer), error: undefined };
      } finally {
        this.#models.release(served);
      }
    } catch (err) {
      reply = { kind: 'reply', id: call.id, outputs: undefined, error: toWireError(err) };
    } finally {
      link.calls.delete(call.id);
    }
    if (!controller.signal.aborted) link.port.postMessage(reply, [...transfer]);
  }
}
