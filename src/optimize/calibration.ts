// Calibration for static quantization: the ranges of intermediate activations over sample inputs.
// The model runs through the engine with the activations added as graph outputs (at optimization
// level 'disabled', so every named value still exists). MinMax takes the extremes; percentile keeps
// the central `percentile` % of the values (a 2048-bin histogram per tensor, second pass), which
// ignores rare outliers that would otherwise stretch the u8 grid.
import type { Engine } from '../engine/index.js';
import type { InputTensor } from '../engine/tensor.js';
import { encodeModel, ELEM, type OnnxModel } from './onnx-model.js';
import type { Range } from './static-quantizer.js';

/** One set of model inputs (one inference request). */
export type Sample = Record<string, InputTensor>;

export type CalibrationMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

const BINS = 2048;

/** Activation ranges over all samples. Tensors that are graph inputs are measured on the samples. */
export async function calibrate(engine: Engine, model: OnnxModel, tensors: readonly string[], samples: readonly Sample[], method: CalibrationMethod): Promise<Map<string, Range>> {
  if (samples.length === 0) throw new Error('calibration needs at least one sample');
  const inputNames = new Set((model.graph!.input ?? []).map((v) => v.name ?? ''));
  const fromInputs = tensors.filter((t) => inputNames.has(t));
  const probed = tensors.filter((t) => !inputNames.has(t));
  const augmented: OnnxModel = {
    ...model,
    graph: {
      ...model.graph!,
      output: [...(model.graph!.output ?? []), ...probed.map((name) => ({ name, type: { tensor_type: { elem_type: ELEM.FLOAT } } }))],
    },
  };
  const loaded = await engine.load(encodeModel(augmented), { graphOptimizationLevel: 'disabled' });
  try {
    const run = async (visit: (tensor: string, values: Float32Array) => void): Promise<void> => {
      for (const sample of samples) {
        const outputs = probed.length > 0 ? await loaded.infer(sample, { outputs: probed }) : {};
        for (const t of probed) visit(t, floats(t, outputs[t]?.data));
        for (const t of fromInputs) visit(t, floats(t, sample[t]?.data));
      }
    };
    const minmax = new Map<string, Range>();
    await run((t, values) => {
      const r = minmax.get(t) ?? { min: Infinity, max: -Infinity };
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
      minmax.set(t, r);
    });
    for (const [t, r] of minmax) {
      if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`calibration: activation '${t}' is not finite (range [${r.min}, ${r.max}])`);
    }
    if (method.kind === 'minmax') return minmax;

    const histograms = new Map<string, { counts: Float64Array; total: number }>();
    await run((t, values) => {
      const { min, max } = minmax.get(t)!;
      const h = histograms.get(t) ?? { counts: new Float64Array(BINS), total: 0 };
      const width = (max - min) / BINS || 1;
      for (let i = 0; i < values.length; i++) h.counts[Math.min(BINS - 1, Math.floor((values[i]! - min) / width))]!++;
      h.total += values.length;
      histograms.set(t, h);
    });
    const tail = (100 - method.percentile) / 200; // each side
    const out = new Map<string, Range>();
    for (const [t, { counts, total }] of histograms) {
      const { min, max } = minmax.get(t)!;
      const width = (max - min) / BINS;
      out.set(t, { min: min + width * quantileBin(counts, total * tail), max: min + width * (BINS - quantileBin(counts.slice().reverse(), total * tail)) });
    }
    return out;
  } finally {
    await loaded.unload();
  }
}

/** The number of leading bins whose counts sum to at most `skip` values. */
function quantileBin(counts: Float64Array, skip: number): number {
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen > skip) return i;
  }
  return counts.length;
}

function floats(tensor: string, data: unknown): Float32Array {
  if (!(data instanceof Float32Array)) throw new Error(`calibration: activation '${tensor}' is not FP32`);
  return data;
}
