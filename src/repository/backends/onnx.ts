// The ONNX Runtime backend: a version is <version>/model.onnx (or default_model_filename), loaded into
// the native engine with the config's batching, providers and session options, checked against the
// config's declared inputs/outputs, and warmed up before it serves.
import type { Backend, BackendLoad, Servable } from '../backend.js';
import type { Model } from '../../engine/index.js';
import { checkAgainstModel, checkOrtParameters, checkProviders, toLoadOptions } from '../load-options.js';
import { runWarmup } from '../warmup.js';
import { ONNX_PLATFORM } from '../../protocol/metadata.js';

export const ONNX_BACKEND: Backend = {
  name: 'onnxruntime',
  platform: 'onnxruntime_onnx',
  metadataPlatform: ONNX_PLATFORM,
  modelFile: (config) => config.default_model_filename ?? 'model.onnx',
  async load(load: BackendLoad): Promise<Servable> {
    checkOrtParameters(load.config, load.where);
    const model: Model = await load.engine.load(load.file!, toLoadOptions(load.config, load.defaultMaxBatchSize, load.where));
    try {
      checkProviders(load.config, load.where, model.metadata);
      checkAgainstModel(load.config, load.where, model.metadata);
      await runWarmup(model, load.config.model_warmup, load.dir, load.where);
    } catch (err) {
      void model.unload();
      throw err;
    }
    return model;
  },
};
