// The entry point: one Engine per process (and per worker_thread, sharing the same ONNX Runtime
// environment and thread pools underneath). Loads models off the event loop.
import { addonChoice, nativeBinding, type NativeRuntimeInfo } from './binding.js';
import { Model } from './model.js';
import { resolveOrtLibrary } from './ort-library.js';
import {
  loadOptionsSchema,
  nativeInitOptions,
  parseEngineOptions,
  parseOptions,
  toNativeBatching,
  toNativeSession,
  type EngineLogger,
  type EngineOptions,
  type LoadOptions,
} from './options.js';

export interface RuntimeInfo {
  /** ONNX Runtime's version string (e.g. 1.30.0). */
  ortVersion: string;
  /** The C API version requested (that of the headers tensorgate was built with). */
  apiVersion: number;
  /** The libonnxruntime that was loaded. */
  library: string;
  intraOpThreads: number;
  interOpThreads: number;
}

const consoleLogger: EngineLogger = {
  warn: (fields, message) => console.warn(`tensorgate: ${message}`, fields),
};

export class Engine {
  readonly runtime: RuntimeInfo;
  /** The polling windows in effect (engine options eventLoopSpinMicroseconds and spinMicroseconds). */
  readonly polling: { readonly eventLoopSpinMicroseconds: number; readonly spinMicroseconds: number };
  readonly #logger: EngineLogger;

  private constructor(runtime: NativeRuntimeInfo, logger: EngineLogger, polling: Engine['polling']) {
    this.runtime = runtime;
    this.#logger = logger;
    this.polling = polling;
  }

  /** Loads ONNX Runtime (once per process) and returns an engine bound to this thread. */
  static create(options: EngineOptions = {}): Engine {
    const { logger, ...rest } = options;
    const o = parseEngineOptions(rest);
    const binding = nativeBinding();
    const choice = addonChoice();
    if (choice?.cudaFallback) {
      (logger ?? consoleLogger).warn({ addon: choice.file, reason: choice.cudaFallback }, 'the CUDA flavour is installed but cannot be used here; running the CPU flavour');
    }
    // The CUDA flavour prefers an ONNX Runtime with CUDA provider libraries beside it.
    const library = resolveOrtLibrary(o.ortLibrary, choice?.flavour === 'cuda' ? 'cuda' : undefined);
    const info = binding.init(nativeInitOptions(o, library));
    return new Engine(info, logger ?? consoleLogger, { eventLoopSpinMicroseconds: o.eventLoopSpinMicroseconds, spinMicroseconds: o.spinMicroseconds });
  }

  /** Loads a model from a file path or ONNX bytes. Session creation runs off the event loop. */
  async load(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
    const o = parseOptions(loadOptionsSchema, options, 'load options');
    const native = await nativeBinding().loadModel(source, toNativeSession(o), toNativeBatching(o, this.polling.spinMicroseconds));
    const model = new Model(native);
    for (const p of model.metadata.providers) {
      if (!p.active) {
        this.#logger.warn(
          { provider: p.name, reason: p.reason, model: typeof source === 'string' ? source : '<bytes>' },
          `execution provider '${p.name}' skipped`,
        );
      }
    }
    return model;
  }

  /** The model with this handle, loaded by any thread of this process (see Model.handle). */
  attach(handle: number): Model {
    return new Model(nativeBinding().attachModel(handle));
  }
}
