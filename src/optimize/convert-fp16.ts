// `tensorgate convert-fp16` without the command line: pre-process, convert, write.
import type { Engine } from '../engine/index.js';
import { convertToFp16, type Fp16Options } from './fp16-converter.js';
import { readModelFile, writeModelFile, type WriteOptions } from './model-file.js';
import { opCounts } from './onnx-model.js';
import { preprocessModel } from './preprocess.js';
import type { QuantizeResult } from './quantize.js';

export interface ConvertRequest extends Fp16Options {
  input: string;
  output: string;
  preprocess?: boolean;
  externalData?: WriteOptions['externalData'];
}

export async function convertModelToFp16(engine: Engine, req: ConvertRequest): Promise<QuantizeResult> {
  const original = await readModelFile(req.input);
  const pre = req.preprocess === false ? undefined : await preprocessModel(engine, req.input, { externalData: original.externalFiles.length > 0 });
  try {
    const { model } = pre ? await readModelFile(pre.path) : original;
    const before = opCounts(model);
    const summary = convertToFp16(model, req);
    model.producer_name = 'tensorgate';
    const written = await writeModelFile(model, req.output, { externalData: req.externalData });
    const blocked = Object.entries(summary.blocked).map(([op, n]) => `${n} ${op}`).join(', ');
    return {
      written,
      flags: [],
      lines: [
        `converted ${summary.convertedInitializers} initializers to FLOAT16${summary.casts ? `, ${summary.casts} Casts at fp32 borders` : ''}${blocked ? `; kept in fp32: ${blocked}` : ''}`,
        ...summary.notes,
      ],
      transform: {
        keepIoTypes: req.keepIoTypes ?? false,
        preprocessed: pre !== undefined,
        convertedInitializers: summary.convertedInitializers,
        clampedValues: summary.clampedValues,
        casts: summary.casts,
        blocked: summary.blocked,
        notes: summary.notes,
        opsBefore: before,
        opsAfter: opCounts(model),
      },
    };
  } finally {
    pre?.dispose();
  }
}
