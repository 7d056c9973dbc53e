// `tensorgate build-engine MODEL --cache-dir DIR`: TensorRT engines built ahead of serving, through
// ONNX Runtime's TensorRT provider. Needs an NVIDIA GPU: elsewhere it exits 1 saying no GPU
// provider is available.
import { parseArgs } from 'node:util';
import type { Command } from './commands.js';
import { positiveInt } from './optimize-args.js';
import { Engine } from '../engine/index.js';
import { buildTensorRtEngine } from '../optimize/tensorrt.js';

const USAGE = `Usage: tensorgate build-engine MODEL --cache-dir DIR [options]

Builds TensorRT engines for MODEL through ONNX Runtime's TensorRT provider and caches them (engine and
timing caches) in DIR, with one explicit optimization profile: batch 1 .. --max-batch-size over the
model's dims. Serve with the same provider options (printed at the end) so the server reuses them.
Needs an NVIDIA GPU with TensorRT; without one it exits 1 with "no GPU provider available".

  --cache-dir DIR              engine and timing cache directory (required)
  --max-batch-size N           profile max batch (default 64); --opt-batch-size N: the tuned size (default max)
  --shape NAME:D1xD2...        concrete dims for inputs with dynamic dims besides the batch (repeatable)
  --fp16                       trt_fp16_enable
  --int8                       trt_int8_enable (--calibration-table FILE: TensorRT's int8 calibration table)
  --device-id N                GPU ordinal (default 0)
  --workspace-bytes N          trt_max_workspace_size
`;

export const BUILD_ENGINE_COMMAND: Command = {
  summary: 'build and cache TensorRT engines for a model (needs an NVIDIA GPU)',
  async run(argv) {
    let req;
    try {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          'cache-dir': { type: 'string' },
          'max-batch-size': { type: 'string' },
          'opt-batch-size': { type: 'string' },
          shape: { type: 'string', multiple: true },
          fp16: { type: 'boolean' },
          int8: { type: 'boolean' },
          'calibration-table': { type: 'string' },
          'device-id': { type: 'string' },
          'workspace-bytes': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
      if (values.help) {
        process.stdout.write(USAGE);
        return 0;
      }
      if (positionals.length !== 1) throw new Error('one MODEL expected');
      if (!values['cache-dir']) throw new Error('--cache-dir DIR is required');
      if (values['calibration-table'] && !values.int8) throw new Error('--calibration-table needs --int8');
      const maxBatchSize = positiveInt('--max-batch-size', values['max-batch-size'] ?? '64');
      const optBatchSize = positiveInt('--opt-batch-size', values['opt-batch-size'] ?? String(maxBatchSize));
      if (optBatchSize > maxBatchSize) throw new Error(`--opt-batch-size ${optBatchSize} exceeds --max-batch-size ${maxBatchSize}`);
      req = {
        input: positionals[0]!,
        cacheDir: values['cache-dir'],
        maxBatchSize,
        optBatchSize,
        shapes: values.shape ?? [],
        fp16: values.fp16 === true,
        int8: values.int8 === true,
        ...(values['calibration-table'] ? { int8CalibrationTable: values['calibration-table'] } : {}),
        ...(values['device-id'] !== undefined ? { deviceId: Number(values['device-id']) } : {}),
        ...(values['workspace-bytes'] ? { workspaceBytes: positiveInt('--workspace-bytes', values['workspace-bytes']) } : {}),
      };
    } catch (err) {
      process.stderr.write(`tensorgate build-engine: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    try {
      const engine = Engine.create({ ortLogLevel: 'fatal', logger: { warn: () => {} } });
      const result = await buildTensorRtEngine(engine, req);
      process.stdout.write(`built TensorRT engines in ${req.cacheDir}: ${result.cacheFiles.join(', ')}\n`);
      process.stdout.write(`profile min ${result.profile.min}, opt ${result.profile.opt}, max ${result.profile.max}\n`);
      const accelerator = { gpu_execution_accelerator: [{ name: 'tensorrt', parameters: result.providerOptions }] };
      process.stdout.write(`serve with, in the model's config:\n"optimization": {"execution_accelerators": ${JSON.stringify(accelerator)}}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`tensorgate build-engine: ${(err as Error).message}\n`);
      return 1;
    }
  },
};
