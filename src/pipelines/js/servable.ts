// A JavaScript model version (config `"backend": "js"`): model code in model.js / model.mjs, run on a
// piscina pool of worker threads, one pool per loaded version, behind the same contract as an ONNX
// model: inputs checked against the declared ones with the engine's messages, Triton's dynamic
// batching and queue policies, deadline / priority / cancellation, statistics in the engine's form,
// and an unload that completes every accepted request, runs finalize() and stops the workers.
import { TensorgateError } from '../../engine/errors.js';
import type { InferInputs, InferOutputs, ModelStats } from '../../engine/index.js';
import { InputSpec } from '../../engine/input-check.js';
import type { BackendLoad, Servable, ServableInferOptions, ServableMetadata, WorkerStats } from '../../repository/backend.js';
import { RepositoryError } from '../../repository/errors.js';
import { warmedUp } from '../../repository/warmup.js';
import { enterChain } from '../calls.js';
import { ModelDirectory } from '../model-directory.js';
import { StatsRecorder } from '../stats.js';
import { GraphTask } from '../wait-graph.js';
import { BatchQueue } from './batcher.js';
import { jsSettings, type JsModelSettings } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { WorkerPool } from './pool.js';
import { JsCall, nowNs } from './request.js';
import { OutputSpec } from './responses.js';

export class JsServable implements Servable {
  readonly metadata: ServableMetadata;
  readonly #name: string;
  readonly #label: string;
  readonly #settings: JsModelSettings;
  readonly #inputs: InputSpec;
  readonly #outputs: OutputSpec;
  readonly #queue: BatchQueue<JsCall>;
  readonly #stats: StatsRecorder;
  readonly #dispatcher: Dispatcher;
  #pool!: WorkerPool;
  #accepting = true;
  #unloading: Promise<void> | undefined;

  private constructor(name: string, label: string, settings: JsModelSettings) {
    this.#name = name;
    this.#label = label;
    this.#settings = settings;
    this.metadata = {
      inputs: settings.inputs,
      outputs: settings.outputs,
      maxBatchSize: settings.maxBatchSize,
      dynamicBatching: settings.batching.dynamicBatching,
    };
    this.#inputs = new InputSpec(settings.inputs);
    this.#outputs = new OutputSpec(settings.outputs, settings.maxBatchSize > 0);
    this.#queue = new BatchQueue<JsCall>(settings.batching);
    this.#stats = new StatsRecorder(settings.maxBatchSize, () => this.#queue.size);
    this.#dispatcher = new Dispatcher({
      name,
      label,
      threads: settings.threads,
      executeTimeoutMs: settings.executeTimeoutMs,
      queue: this.#queue,
      stats: this.#stats,
      outputs: this.#outputs,
    });
  }

  /** Loads a version: starts its workers (each runs initialize), then runs the config's warmup. */
  static async load(load: BackendLoad): Promise<JsServable> {
    const settings = jsSettings(load.config, load.where);
    const label = `model '${load.name}' version ${load.version}`;
    const servable = new JsServable(load.name, label, settings);
    const directory = ModelDirectory.of(load.models);
    try {
      servable.#pool = await WorkerPool.start({
        label,
        setup: { file: load.file!, name: load.name, version: load.version, dir: load.dir, config: load.config as Record<string, unknown>, maxBatchSize: settings.maxBatchSize },
        threads: settings.threads,
        resourceLimits: settings.resourceLimits,
        initializeTimeoutMs: settings.initializeTimeoutMs,
        directory,
        logger: load.logger,
        onCapacity: () => servable.#dispatcher.pump(),
        onCall: (link, call) => void directory.serve(link, call, servable.#dispatcher.task(call.task)),
      });
    } catch (err) {
      throw new RepositoryError('LOAD_FAILED', (err as Error).message);
    }
    servable.#dispatcher.attach(servable.#pool);
    return warmedUp(servable, load.config.model_warmup, load.dir);
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  infer(inputs: InferInputs, options: ServableInferOptions = {}): Promise<InferOutputs> {
    let call: JsCall;
    try {
      call = this.#accept(inputs, options);
    } catch (err) {
      if (err instanceof TensorgateError && (err.code === 'UNAVAILABLE' || err.code === 'QUEUE_FULL')) this.#stats.refused(err);
      return Promise.reject(err);
    }
    try {
      this.#dispatcher.submit(call);
    } catch (err) {
      this.#stats.refused(err);
      call.settle(undefined, err);
      return call.promise;
    }
    const signal = options.signal;
    if (signal && !call.settled) call.listen(signal, () => this.#dispatcher.cancel(call, new TensorgateError('ABORTED', `inference aborted${signal.reason instanceof Error ? `: ${signal.reason.message}` : ''}`)));
    return call.promise;
  }

  /** Checks a request as the engine would and makes it a queued call (not yet queued). */
  #accept(inputs: InferInputs, options: ServableInferOptions): JsCall {
    if (!this.#accepting) throw new TensorgateError('UNAVAILABLE', `${this.#label} is unloading and accepts no new requests`);
    const sick = this.#pool.unhealthy();
    if (sick !== undefined) throw new TensorgateError('UNAVAILABLE', sick);
    const spec = this.#inputs;
    const batched = this.#settings.maxBatchSize > 0;
    let given = 0;
    let rows = -1;
    let first = '';
    for (const name in inputs) {
      const tensor = inputs[name]!;
      spec.check(name, tensor);
      given++;
      if (batched) {
        const r = tensor.shape.length === 0 ? 0 : tensor.shape[0]!;
        if (rows >= 0 && r !== rows) throw new TensorgateError('INVALID_ARGUMENT', `input '${name}': batch dimension ${r} differs from input '${first}' (${rows})`);
        if (rows < 0) first = name;
        rows = r;
      }
    }
    if (given !== spec.names.length) throw spec.missing((n) => n in inputs);
    if (batched && rows > this.#settings.maxBatchSize) {
      throw new TensorgateError('INVALID_ARGUMENT', `batch size ${rows} exceeds the model's max_batch_size ${this.#settings.maxBatchSize}`);
    }
    const outputs = options.outputs === undefined ? undefined : [...new Set(options.outputs)];
    for (const o of outputs ?? []) {
      if (!this.#outputs.has(o)) throw new TensorgateError('INVALID_ARGUMENT', `unknown output '${o}' (model outputs: ${this.#outputs.names.join(', ')})`);
    }
    const chain = enterChain(options.chain, this.#name);
    const level = this.#queue.levelOf(options.priority ?? 0);
    if (options.signal?.aborted) throw new TensorgateError('ABORTED', 'inference aborted');
    const enqueueNs = nowNs();
    const timeoutUs = options.timeoutUs ?? (options.timeoutMs !== undefined ? options.timeoutMs * 1000 : 0);
    const { deadlineNs, delayOnTimeout } = this.#queue.deadline(level, timeoutUs, enqueueNs);
    return new JsCall(this.#dispatcher, {
      inputs,
      outputs,
      rows: batched ? rows : 1,
      level,
      priority: options.priority ?? 0,
      enqueueNs,
      deadlineNs,
      delayOnTimeout,
      donate: options.donateInputs === true,
      parameters: options.parameters as Record<string, unknown> | undefined,
      id: options.id,
      trace: options.trace,
      chain: [...chain],
      timings: options.timings,
      waiter: options.waiter instanceof GraphTask ? options.waiter : undefined,
    });
  }

  stats(): ModelStats {
    return this.#stats.snapshot();
  }

  unhealthy(): string | undefined {
    return this.#pool.unhealthy();
  }

  workers(): WorkerStats {
    return this.#pool.stats();
  }

  /** Stops accepting, completes every accepted request, runs finalize() on each worker, stops them. */
  unload(): Promise<void> {
    this.#unloading ??= (async () => {
      this.#accepting = false;
      await this.#dispatcher.idle();
      this.#dispatcher.detach();
      await this.#pool.close();
    })();
    return this.#unloading;
  }
}
