// `tensorgate quantize MODEL`: int8 quantization in TypeScript (dynamic or static QDQ), then the report.
import type { Command } from './commands.js';
import { COMMON_USAGE, list } from './optimize-args.js';
import { runOptimizeCommand } from './optimize-runner.js';
import { quantizeModel } from '../optimize/quantize.js';
import { DYNAMIC_OP_TYPES } from '../optimize/dynamic-quantizer.js';
import { STATIC_OP_TYPES } from '../optimize/static-quantizer.js';

const USAGE = `Usage: tensorgate quantize MODEL (-o OUT | --repository DIR --model NAME) [options]

Quantization:
  --mode dynamic|static        dynamic (default): ${DYNAMIC_OP_TYPES.join('/')} with constant weights -> int8 weights,
                               activations quantized at run time. static: QDQ around ${STATIC_OP_TYPES.join(', ')}
                               at ranges calibrated on --calibration (u8 activations, s8 weights)
  --calibration FILE|DIR       static: the calibration samples (also the report's inputs)
  --calibration-method M       static: minmax (default) | percentile
  --percentile P               static, percentile: keep the central P % of each activation (default 99.99)
  --per-channel                one weight scale per output channel instead of per tensor
  --weight-bits 7|8            default: 8 when the CPU has VNNI/AMX (avx512_vnni, avx_vnni, amx_int8), else 7
                               (without them ONNX Runtime's u8 x s8 kernel saturates on full-range weights)
  --op-types A,B               op types to quantize (default: all the mode supports)
  --exclude-nodes N1,N2        node names to keep in float
  --no-preprocess              skip ONNX Runtime's basic optimizations before quantizing

${COMMON_USAGE}`;

export const QUANTIZE_COMMAND: Command = {
  summary: 'int8-quantize an ONNX model (dynamic or static QDQ) and report accuracy and speed',
  run: (argv) =>
    runOptimizeCommand(
      {
        name: 'quantize',
        usage: USAGE,
        flags: {
          mode: { type: 'string' },
          'calibration-method': { type: 'string' },
          percentile: { type: 'string' },
          'per-channel': { type: 'boolean' },
          'weight-bits': { type: 'string' },
          'op-types': { type: 'string' },
          'exclude-nodes': { type: 'string' },
          'no-preprocess': { type: 'boolean' },
        },
        prepare({ input, values, settings, externalData }) {
          const mode = (values.mode ?? 'dynamic') as string;
          if (mode !== 'dynamic' && mode !== 'static') throw new Error(`--mode: dynamic or static, not '${mode}'`);
          const bits = values['weight-bits'] as string | undefined;
          if (bits !== undefined && bits !== '7' && bits !== '8') throw new Error(`--weight-bits: 7 or 8, not '${bits}'`);
          const methodName = (values['calibration-method'] ?? 'minmax') as string;
          if (methodName !== 'minmax' && methodName !== 'percentile') throw new Error(`--calibration-method: minmax or percentile, not '${methodName}'`);
          const percentile = Number(values.percentile ?? '99.99');
          if (!(percentile > 50 && percentile <= 100)) throw new Error(`--percentile: a number in (50, 100], not '${String(values.percentile)}'`);
          if (mode === 'static' && !settings.samplesPath) throw new Error('--mode static needs --calibration FILE|DIR');
          if (mode === 'dynamic' && (values['calibration-method'] !== undefined || values.percentile !== undefined)) {
            throw new Error('--calibration-method and --percentile apply to --mode static');
          }
          return (engine, output) =>
            quantizeModel(engine, {
              input,
              output,
              mode,
              ...(bits ? { weightBits: Number(bits) as 7 | 8 } : {}),
              perChannel: values['per-channel'] === true,
              ...(settings.samplesPath ? { calibration: settings.samplesPath } : {}),
              method: methodName === 'minmax' ? { kind: 'minmax' } : { kind: 'percentile', percentile },
              opTypes: list(values['op-types']),
              excludeNodes: list(values['exclude-nodes']),
              preprocess: values['no-preprocess'] !== true,
              externalData,
            });
        },
      },
      argv,
    ),
};
