// TensorRT engine building through ONNX Runtime's TensorRT provider: explicit optimization profiles
// (min/opt/max shapes from the batch range and the model's dims), an engine cache and a timing cache
// in one directory, fp16/int8 switches. Building happens when a session first runs each profile, so
// the builder runs the model once at the min, opt and max shapes. Needs a GPU with TensorRT; where
// the provider cannot load, it stops with NoGpuProviderError instead of silently building nothing.
import { mkdirSync, readdirSync } from 'node:fs';
import type { Engine } from '../engine/index.js';
import { dimsOf } from './onnx-model.js';
import { readModelFile } from './model-file.js';
import { parseShapes, randomSamples } from './samples.js';

export class NoGpuProviderError extends Error {
  override readonly name = 'NoGpuProviderError';
}

export interface EngineBuildRequest {
  input: string;
  cacheDir: string;
  /** Batch range of the profile; a model without a dynamic first dim ignores it. */
  maxBatchSize: number;
  optBatchSize?: number;
  /** Concrete shapes (batch dim included, any value) for inputs with other dynamic dims. */
  shapes: readonly string[];
  fp16?: boolean;
  int8?: boolean;
  int8CalibrationTable?: string;
  deviceId?: number;
  workspaceBytes?: number;
}

export interface Profile {
  min: string;
  opt: string;
  max: string;
}

interface InputSignature {
  name: string;
  dims: Array<number | string | null>;
}

/** TensorRT profile strings ("x:1x16,y:1x4") for a batch range over the inputs' dims. */
export function profileShapes(inputs: readonly InputSignature[], maxBatch: number, optBatch: number, shapes: ReadonlyMap<string, number[]>): Profile {
  const at = (batch: number) =>
    inputs
      .map((input) => {
        const given = shapes.get(input.name);
        const dims = input.dims.map((d, i) => {
          if (typeof d === 'number' && d > 0) return d;
          if (i === 0) return batch;
          const g = given?.[i];
          if (g === undefined) throw new Error(`input '${input.name}' dim ${i} is dynamic: pass --shape ${input.name}:${input.dims.map((x, j) => (j === 0 ? 'N' : typeof x === 'number' && x > 0 ? x : 'D')).join('x')}`);
          return g;
        });
        return `${input.name}:${dims.join('x')}`;
      })
      .join(',');
  return { min: at(1), opt: at(optBatch), max: at(maxBatch) };
}

export interface EngineBuildResult {
  profile: Profile;
  providerOptions: Record<string, string>;
  cacheFiles: string[];
}

export async function buildTensorRtEngine(engine: Engine, req: EngineBuildRequest): Promise<EngineBuildResult> {
  const { model } = await readModelFile(req.input);
  const initializers = new Set((model.graph!.initializer ?? []).map((t) => t.name));
  const inputs = (model.graph!.input ?? [])
    .filter((v) => !initializers.has(v.name))
    .map((v) => ({ name: v.name ?? '', dims: dimsOf(v) ?? [] }));
  const shapes = parseShapes(req.shapes);
  const profile = profileShapes(inputs, req.maxBatchSize, req.optBatchSize ?? req.maxBatchSize, shapes);
  mkdirSync(req.cacheDir, { recursive: true });
  const providerOptions: Record<string, string> = {
    device_id: String(req.deviceId ?? 0),
    trt_engine_cache_enable: '1',
    trt_engine_cache_path: req.cacheDir,
    trt_timing_cache_enable: '1',
    trt_timing_cache_path: req.cacheDir,
    trt_fp16_enable: req.fp16 ? '1' : '0',
    trt_int8_enable: req.int8 ? '1' : '0',
    trt_profile_min_shapes: profile.min,
    trt_profile_opt_shapes: profile.opt,
    trt_profile_max_shapes: profile.max,
    ...(req.int8CalibrationTable ? { trt_int8_calibration_table_name: req.int8CalibrationTable } : {}),
    ...(req.workspaceBytes ? { trt_max_workspace_size: String(req.workspaceBytes) } : {}),
  };
  const loaded = await engine.load(req.input, { executionProviders: [{ name: 'tensorrt', options: providerOptions }, 'cpu'] });
  try {
    const trt = loaded.metadata.providers.find((p) => p.name === 'tensorrt');
    if (!trt?.active) throw new NoGpuProviderError(`no GPU provider available: ONNX Runtime's TensorRT provider did not load (${(trt?.reason ?? 'unknown reason').replace(/\s+/g, ' ').trim()}); build-engine needs an NVIDIA GPU with TensorRT and onnxruntime's GPU provider libraries`);
    // Run each profile corner once: TensorRT builds (and caches) engines on first use.
    for (const spec of [profile.min, profile.opt, profile.max]) {
      const fixed = new Map(spec.split(',').map((s) => [s.slice(0, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1).split('x').map(Number)] as [string, number[]]));
      const [sample] = randomSamples(loaded.metadata.inputs, 1, 1, fixed);
      await loaded.infer(sample!);
    }
  } finally {
    await loaded.unload();
  }
  return { profile, providerOptions, cacheFiles: readdirSync(req.cacheDir).sort() };
}
