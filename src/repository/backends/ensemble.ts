// Ensembles (`"platform": "ensemble"`, Triton's ensemble_scheduling): a DAG of steps over other served
// models, no model file (a version directory may be empty). See src/pipelines/ensemble/.
import type { Backend } from '../backend.js';
import { EnsembleServable } from '../../pipelines/ensemble/servable.js';

export const ENSEMBLE_BACKEND: Backend = {
  name: 'ensemble',
  platform: 'ensemble',
  metadataPlatform: 'ensemble',
  modelFile: () => undefined,
  load: (load) => EnsembleServable.load(load),
  dependsOn: (config) => [...new Set((config.ensemble_scheduling?.step ?? []).map((s) => s.model_name))],
  completeConfig(config) {
    // Ensembles have no instances and no model file (Triton rejects instance_group on them).
    const { instance_group: _groups, default_model_filename: _file, backend: _backend, ...rest } = config;
    return rest;
  },
};
