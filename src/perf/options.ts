// `tensorgate perf` flags, in perf_analyzer's names where it has them, validated once.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseRange } from './ranges.js';

export type Protocol = 'http' | 'grpc';

export interface PerfOptions {
  model: string;
  version: string | undefined;
  protocol: Protocol;
  /** host:port */
  url: string;
  /** Closed loop: outstanding requests per step. */
  concurrency: number[] | undefined;
  /** Open loop: requests per second per step. */
  rates: number[] | undefined;
  distribution: 'constant' | 'poisson';
  /** Dims (without the batch dimension when the model batches) of inputs whose shape is not fixed. */
  shapes: Map<string, number[]>;
  batchSize: number;
  inputData: 'random' | 'zeros' | { file: string; sets: Array<Record<string, unknown>> };
  inputFormat: 'binary' | 'json';
  outputFormat: 'binary' | 'json';
  measurementIntervalMs: number;
  warmupMs: number;
  percentile: number | undefined;
  stabilityPercentage: number;
  maxTrials: number;
  maxConnections: number;
  headers: Record<string, string>;
  seed: number;
  csv: string | undefined;
  json: string | undefined;
  svg: string | undefined;
  /** No progress bar (non-TTY output never gets one). */
  quiet: boolean;
}

export const PERF_USAGE = `Usage: tensorgate perf -m MODEL [options]

Load a running server the way perf_analyzer does and report, per step, throughput, client latency
percentiles and the server's own split of a request (queue, compute) from its statistics API.

  -m, --model-name NAME          the model (or route) to load
  -x, --model-version V          a version (default: the latest)
  -u, --url HOST:PORT            default localhost:8000 (http) or localhost:8001 (grpc)
  -i, --protocol http|grpc       default http
  --concurrency-range S:E:STEP   closed loop: S, S+STEP, ... E outstanding requests (STEP may be xF to
                                 multiply: 1:64:x2); the default when no range is given is 1
  --request-rate-range S:E:STEP  open loop: requests per second per step, sent on schedule whether
                                 answers came back or not (latency counts from the scheduled time)
  --request-distribution D       constant (default) or poisson arrivals in the open loop
  --shape NAME:D1,D2,...         dims of an input whose shape is not fixed (without the batch
                                 dimension when the model batches); repeatable
  -b, --batch-size N             rows per request when the model batches (default 1)
  --input-data random|zeros|FILE random (default), zeros, or a JSON file {"data": [{"NAME": [..] |
                                 {"content": [..], "shape": [..]}}, ...]} whose entries requests cycle through
  --input-tensor-format F        binary (default) or json request tensors (HTTP)
  --output-tensor-format F       binary (default) or json reply tensors (HTTP)
  -p, --measurement-interval MS  length of a measurement window (default 5000)
  --warmup-interval MS           load before the first window of each step (default 1000)
  --percentile P                 stabilize on (and report as "the latency") the P-th percentile, not the average
  --stability-percentage N       a step is stable when its last 3 windows agree within N % (default 10)
  --max-trials N                 windows per step before giving up on stability (default 10)
  --max-connections N            connections the open loop may open (default 256)
  -H, --header NAME:VALUE        an extra header (HTTP) or metadata entry (gRPC); repeatable
  --seed N                       random inputs and Poisson arrivals (default 1)
  -f, --latency-report-file FILE CSV, one row per step
  --json FILE                    everything measured, as JSON
  --svg FILE                     the latency-throughput picture
  -q, --quiet                    no progress bar
`;

const FLAGS = {
  'model-name': { type: 'string', short: 'm' },
  'model-version': { type: 'string', short: 'x' },
  url: { type: 'string', short: 'u' },
  protocol: { type: 'string', short: 'i' },
  'concurrency-range': { type: 'string' },
  'request-rate-range': { type: 'string' },
  'request-distribution': { type: 'string' },
  shape: { type: 'string', multiple: true },
  'batch-size': { type: 'string', short: 'b' },
  'input-data': { type: 'string' },
  'input-tensor-format': { type: 'string' },
  'output-tensor-format': { type: 'string' },
  'measurement-interval': { type: 'string', short: 'p' },
  'warmup-interval': { type: 'string' },
  percentile: { type: 'string' },
  'stability-percentage': { type: 'string' },
  'max-trials': { type: 'string' },
  'max-connections': { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  seed: { type: 'string' },
  'latency-report-file': { type: 'string', short: 'f' },
  json: { type: 'string' },
  svg: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function integer(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${value}: expected an integer of at least ${min}`);
  return n;
}

function choice<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${flag} ${value}: expected ${allowed.join(' or ')}`);
  return value as T;
}

function readInputFile(file: string): Array<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--input-data ${file}: ${(err as Error).message}`);
  }
  const data = (parsed as { data?: unknown }).data;
  if (!Array.isArray(data) || data.length === 0 || !data.every((d) => d !== null && typeof d === 'object' && !Array.isArray(d))) {
    throw new Error(`--input-data ${file}: expected {"data": [{"INPUT": [...]}, ...]} with at least one entry`);
  }
  return data as Array<Record<string, unknown>>;
}

export function parsePerfArgs(argv: string[]): PerfOptions | 'help' {
  const { values: v } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (v.help) return 'help';
  if (!v['model-name']) throw new Error('-m/--model-name is required');
  const protocol = choice(v.protocol, 'protocol', ['http', 'grpc'] as const, 'http');
  if (v['concurrency-range'] !== undefined && v['request-rate-range'] !== undefined) {
    throw new Error('--concurrency-range and --request-rate-range: give one of them');
  }
  const shapes = new Map<string, number[]>();
  for (const s of v.shape ?? []) {
    const at = s.lastIndexOf(':');
    const dims = at > 0 ? s.slice(at + 1).split(',').map(Number) : [];
    if (at <= 0 || dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`--shape ${s}: expected NAME:D1,D2,... (non-negative integers)`);
    shapes.set(s.slice(0, at), dims);
  }
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const at = h.indexOf(':');
    if (at <= 0) throw new Error(`--header ${h}: expected NAME:VALUE`);
    headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  const input = v['input-data'] ?? 'random';
  const percentile = v.percentile === undefined ? undefined : Number(v.percentile);
  if (percentile !== undefined && !(percentile > 0 && percentile < 100)) throw new Error(`--percentile ${v.percentile}: expected a number between 0 and 100`);
  const stability = v['stability-percentage'] === undefined ? 10 : Number(v['stability-percentage']);
  if (!(stability > 0)) throw new Error(`--stability-percentage ${v['stability-percentage']}: expected a positive number`);
  return {
    model: v['model-name'],
    version: v['model-version'],
    protocol,
    url: (v.url ?? (protocol === 'http' ? 'localhost:8000' : 'localhost:8001')).replace(/^[a-z]+:\/\//, '').replace(/\/+$/, ''),
    concurrency: v['request-rate-range'] === undefined ? parseRange(v['concurrency-range'] ?? '1', '--concurrency-range') : undefined,
    rates: v['request-rate-range'] === undefined ? undefined : parseRange(v['request-rate-range'], '--request-rate-range'),
    distribution: choice(v['request-distribution'], 'request-distribution', ['constant', 'poisson'] as const, 'constant'),
    shapes,
    batchSize: integer(v['batch-size'], 'batch-size', 1, 1),
    inputData: input === 'random' || input === 'zeros' ? input : { file: input, sets: readInputFile(input) },
    inputFormat: choice(v['input-tensor-format'], 'input-tensor-format', ['binary', 'json'] as const, 'binary'),
    outputFormat: choice(v['output-tensor-format'], 'output-tensor-format', ['binary', 'json'] as const, 'binary'),
    measurementIntervalMs: integer(v['measurement-interval'], 'measurement-interval', 5000, 10),
    warmupMs: integer(v['warmup-interval'], 'warmup-interval', 1000, 0),
    percentile,
    stabilityPercentage: stability,
    maxTrials: integer(v['max-trials'], 'max-trials', 10, 1),
    maxConnections: integer(v['max-connections'], 'max-connections', 256, 1),
    headers,
    seed: integer(v.seed, 'seed', 1, 0),
    csv: v['latency-report-file'],
    json: v.json,
    svg: v.svg,
    quiet: v.quiet === true,
  };
}
