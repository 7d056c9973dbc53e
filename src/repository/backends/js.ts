// The JavaScript backend (`"backend": "js"`, Triton's python backend for Node): a version is
// <version>/model.js or model.mjs (or default_model_filename) exporting initialize / execute /
// finalize, run on worker threads (src/pipelines/js/).
import type { Backend, BackendLoad, Servable } from '../backend.js';
import { JsServable } from '../../pipelines/js/servable.js';

export const JS_PLATFORM = 'js';

export const JS_BACKEND: Backend = {
  name: 'js',
  platform: JS_PLATFORM,
  metadataPlatform: JS_PLATFORM,
  modelFile: (config) => (config.default_model_filename !== undefined ? config.default_model_filename : ['model.js', 'model.mjs']),
  load: (load: BackendLoad): Promise<Servable> => JsServable.load(load),
  completeConfig(config) {
    // Selected by `backend` alone (as Triton's python backend): no platform, so the effective config
    // loads again as it is.
    const { platform: _platform, ...rest } = config;
    return rest;
  },
};
