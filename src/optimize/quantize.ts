// `tensorgate quantize` without the command line: pre-process, rewrite (dynamic or static), write.
import type { Engine } from '../engine/index.js';
import { calibrate, type CalibrationMethod } from './calibration.js';
import { chooseWeightBits, detectCpuFeatures, type CpuFeatures } from './cpu-features.js';
import { quantizeDynamic, type QuantizeSummary } from './dynamic-quantizer.js';
import { readModelFile, writeModelFile, type WriteOptions, type WrittenModel } from './model-file.js';
import { opCounts } from './onnx-model.js';
import { preprocessModel } from './preprocess.js';
import { readSamples } from './samples.js';
import type { NodeSelection } from './selection.js';
import { applyStatic, planStatic } from './static-quantizer.js';

export interface QuantizeRequest extends NodeSelection {
  input: string;
  output: string;
  mode: 'dynamic' | 'static';
  /** Forced weight range; default: what this CPU runs without saturation. */
  weightBits?: 7 | 8;
  perChannel?: boolean;
  /** Static: request bodies to calibrate on. */
  calibration?: string;
  method?: CalibrationMethod;
  /** Run ONNX Runtime's basic optimizations first (default true). */
  preprocess?: boolean;
  externalData?: WriteOptions['externalData'];
  /** Test hook: CPU flags other than this machine's. */
  cpu?: CpuFeatures;
}

export interface QuantizeResult {
  written: WrittenModel;
  /** For the report's `transform` section. */
  transform: Record<string, unknown>;
  /** Report flags raised by the choice of weights (forced 8-bit where it saturates). */
  flags: string[];
  /** Human lines for the terminal. */
  lines: string[];
}

export async function quantizeModel(engine: Engine, req: QuantizeRequest): Promise<QuantizeResult> {
  if (req.mode === 'static' && !req.calibration) throw new Error('--mode static needs --calibration FILE|DIR (v2 request bodies)');
  const choice = chooseWeightBits(req.cpu ?? detectCpuFeatures(), req.weightBits);
  const lines = [choice.reason];
  const flags: string[] = [];
  if (choice.warning) {
    lines.push(`warning: ${choice.warning}`);
    flags.push(choice.warning);
  }
  const original = await readModelFile(req.input);
  const pre = req.preprocess === false ? undefined : await preprocessModel(engine, req.input, { externalData: original.externalFiles.length > 0 });
  try {
    const { model } = pre ? await readModelFile(pre.path) : original;
    const before = opCounts(model);
    const options = { weightBits: choice.bits, perChannel: req.perChannel ?? false, opTypes: req.opTypes, excludeNodes: req.excludeNodes };
    let summary: QuantizeSummary;
    let calibration: Record<string, unknown> | undefined;
    if (req.mode === 'dynamic') {
      summary = quantizeDynamic(model, options);
    } else {
      const method = req.method ?? { kind: 'minmax' };
      const plan = planStatic(model, options);
      const probe = await engine.load(req.input);
      const inputs = probe.metadata.inputs;
      await probe.unload();
      const samples = await readSamples(req.calibration!, inputs);
      const ranges = await calibrate(engine, model, plan.tensors, samples, method);
      calibration = { samples: samples.length, source: req.calibration, method, activations: plan.tensors.length };
      lines.push(`calibrated ${plan.tensors.length} activations on ${samples.length} samples (${method.kind === 'minmax' ? 'min/max' : `${method.percentile} percentile`})`);
      summary = applyStatic(model, plan, ranges, options);
    }
    const done = summary.outcomes.filter((o) => !o.skipped);
    const skipped = summary.outcomes.filter((o) => o.skipped);
    if (done.length === 0) throw new Error(`nothing to quantize: ${skipped.length ? skipped.map((o) => `${o.node}: ${o.skipped}`).join('; ') : 'the model has no node of the selected op types'}`);
    lines.push(`quantized ${done.length} node${done.length === 1 ? '' : 's'} (${countBy(done)})${skipped.length ? `; left ${skipped.length} in float` : ''}`);
    for (const s of skipped) lines.push(`  kept ${s.node} (${s.opType}): ${s.skipped}`);
    lines.push(...summary.notes);
    model.producer_name = 'tensorgate';
    const written = await writeModelFile(model, req.output, { externalData: req.externalData });
    return {
      written,
      flags,
      lines,
      transform: {
        mode: req.mode,
        weightBits: choice.bits,
        weightBitsReason: choice.reason,
        perChannel: options.perChannel,
        preprocessed: pre !== undefined,
        quantized: done.map((o) => o.node),
        skipped: skipped.map((o) => ({ node: o.node, reason: o.skipped })),
        notes: summary.notes,
        opsBefore: before,
        opsAfter: opCounts(model),
        ...(calibration ? { calibration } : {}),
      },
    };
  } finally {
    pre?.dispose();
  }
}

function countBy(outcomes: Array<{ opType: string }>): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.opType, (counts.get(o.opType) ?? 0) + 1);
  return [...counts].map(([op, n]) => `${n} ${op}`).join(', ');
}
