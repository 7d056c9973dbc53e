// Flags shared by `optimize`, `quantize` and `convert-fp16`: where the result goes, and how the
// report compares it with the original. Parsed once here with messages that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ReportSettings, Target } from '../optimize/finish.js';
import { parseCheck } from '../optimize/report.js';
import { parseShapes } from '../optimize/samples.js';

export const COMMON_FLAGS = {
  output: { type: 'string', short: 'o' },
  repository: { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  calibration: { type: 'string' },
  samples: { type: 'string' },
  seed: { type: 'string' },
  shape: { type: 'string', multiple: true },
  runs: { type: 'string' },
  'max-batch-size': { type: 'string' },
  check: { type: 'string', multiple: true },
  'external-data': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const COMMON_USAGE = `Output (one or both):
  -o, --output FILE            where to write the new model
  --repository DIR --model NAME
                               also publish it as the next version of DIR/NAME (only if every --check passes)
  --version N                  publish as version N instead of the next one
  --external-data MODE         auto (default: only above protobuf's 2 GiB) | always | never

Report (original vs new model through the engine, printed and written as JSON):
  --calibration FILE|DIR       inputs: v2 request bodies, one JSON per line or a directory of .json files
  --samples N                  without --calibration: N random inputs from the model's signature (default 32)
  --seed N                     seed of the random inputs (default 1)
  --shape NAME:D1xD2...        a concrete shape for an input with dynamic dims (repeatable)
  --runs N                     timed runs per model and batch size (default 50)
  --max-batch-size N           second latency row (default: the repository config's max_batch_size, else 64)
  --report FILE                JSON report (default OUT.report.json, or DIR/NAME/<command>-report-vN.json)
  --check EXPR                 fail (exit 1) unless EXPR holds; repeatable. METRIC<=N or METRIC>=N with
                               METRIC one of rel_rmse, max_abs, max_rel, top1, speedup, speedup_max_batch,
                               size_ratio; or 'flags' to fail on any accuracy flag
  --no-report                  skip the comparison
`;

type Values = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommon {
  input: string;
  target: Target;
  settings: ReportSettings;
  externalData: 'auto' | 'always' | 'never';
  values: Values;
}

/** Parses argv with the common flags plus `own`; throws with a message naming the flag. */
export function parseOptimizeArgs(argv: string[], own: NonNullable<ParseArgsConfig['options']>): ParsedCommon | 'help' {
  const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_FLAGS, ...own }, strict: true, allowPositionals: true }) as {
    values: Values;
    positionals: string[];
  };
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new Error(positionals.length === 0 ? 'MODEL: the .onnx file to optimize is missing' : `one MODEL expected, got ${positionals.join(' ')}`);
  const str = (k: string) => values[k] as string | undefined;
  const output = str('output');
  const repository = str('repository');
  const model = str('model');
  if (!output && !repository) throw new Error('-o/--output FILE or --repository DIR --model NAME is required');
  if (repository && !model) throw new Error('--repository needs --model NAME');
  if (model && !repository) throw new Error('--model needs --repository DIR');
  if (str('version') !== undefined && !repository) throw new Error('--version needs --repository');
  const checks = (values.check as string[] | undefined) ?? [];
  for (const c of checks) parseCheck(c);
  const skip = values['no-report'] === true;
  if (skip && checks.length > 0) throw new Error('--check needs the report: drop --no-report');
  parseShapes((values.shape as string[] | undefined) ?? []);
  const externalData = (str('external-data') ?? 'auto') as ParsedCommon['externalData'];
  if (!['auto', 'always', 'never'].includes(externalData)) throw new Error(`--external-data: auto, always or never, not '${externalData}'`);
  return {
    input: positionals[0]!,
    target: {
      ...(output ? { output } : {}),
      ...(repository ? { repository: { dir: repository, model: model!, ...(str('version') ? { version: positiveInt('--version', str('version')!) } : {}) } } : {}),
    },
    settings: {
      ...(str('calibration') ? { samplesPath: str('calibration')! } : {}),
      randomCount: positiveInt('--samples', str('samples') ?? '32'),
      seed: int('--seed', str('seed') ?? '1'),
      shapes: (values.shape as string[] | undefined) ?? [],
      runs: positiveInt('--runs', str('runs') ?? '50'),
      ...(str('max-batch-size') ? { maxBatchSize: positiveInt('--max-batch-size', str('max-batch-size')!) } : {}),
      ...(str('report') ? { reportPath: str('report')! } : {}),
      checks,
      skip,
    },
    externalData,
    values,
  };
}

export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new Error(`${flag}: a positive integer, not '${text}'`);
  return n;
}

function int(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new Error(`${flag}: an integer, not '${text}'`);
  return Number(text);
}

/** A comma-separated list flag, empty entries dropped. */
export function list(value: unknown): string[] {
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : [];
}
