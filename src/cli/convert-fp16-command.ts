// `tensorgate convert-fp16 MODEL`: fp32 -> fp16 (mainly for GPU providers), then the report.
import type { Command } from './commands.js';
import { COMMON_USAGE, list } from './optimize-args.js';
import { runOptimizeCommand } from './optimize-runner.js';
import { convertModelToFp16 } from '../optimize/convert-fp16.js';
import { DEFAULT_BLOCK_OPS } from '../optimize/fp16-converter.js';

const USAGE = `Usage: tensorgate convert-fp16 MODEL (-o OUT | --repository DIR --model NAME) [options]

Converts float initializers and computation to fp16, clamping constants to fp16's ±65504, with Casts
where blocked ops keep computing in fp32. fp16 is for GPU providers (CUDA, TensorRT): ONNX Runtime's
CPU provider lacks most fp16 kernels, so on CPU expect it to be slower than fp32.

  --keep-io-types              keep FP32 model inputs and outputs (Casts at the edges)
  --block-ops A,B              op types kept in fp32 (default: ${DEFAULT_BLOCK_OPS.join(', ')};
                               operators outside the standard ONNX domain always are)
  --block-nodes N1,N2          node names kept in fp32
  --no-preprocess              skip ONNX Runtime's basic optimizations before converting

${COMMON_USAGE}`;

export const CONVERT_FP16_COMMAND: Command = {
  summary: 'convert an ONNX model to fp16 (for GPU providers) and report accuracy and speed',
  run: (argv) =>
    runOptimizeCommand(
      {
        name: 'convert-fp16',
        usage: USAGE,
        flags: {
          'keep-io-types': { type: 'boolean' },
          'block-ops': { type: 'string' },
          'block-nodes': { type: 'string' },
          'no-preprocess': { type: 'boolean' },
        },
        prepare({ input, values, externalData }) {
          const blockOps = values['block-ops'] === undefined ? undefined : list(values['block-ops']);
          return (engine, output) =>
            convertModelToFp16(engine, {
              input,
              output,
              keepIoTypes: values['keep-io-types'] === true,
              ...(blockOps ? { blockOps } : {}),
              blockNodes: list(values['block-nodes']),
              preprocess: values['no-preprocess'] !== true,
              externalData,
            });
        },
      },
      argv,
    ),
};
