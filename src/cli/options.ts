// `tensorgate serve` options: flags, an optional config file with the same keys (JSON or YAML), and
// environment variables for secrets. Validated once, with messages that name the option.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseHorizons } from '../forecast/duration.js';
import { parseTraceConfig } from '../tracing/settings.js';
import { DEFAULT_ADMISSION } from '../inference/admission.js';
import { DEFAULT_DECODE_LIMITS } from '../protocol/limits.js';
import { DEFAULT_TRANSPORT_LIMITS } from '../server/transport.js';

const bytes = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*([kmgt]i?b?)?$/i, 'a byte count such as 67108864, 64MiB or 2GB')
    .transform((s) => {
      const m = /^(\d+(?:\.\d+)?)\s*([kmgt])?(i)?b?$/i.exec(s.trim())!;
      const unit = (m[2] ?? '').toLowerCase();
      const base = m[3] || unit === '' ? 1024 : 1000;
      const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit as '' | 'k' | 'm' | 'g' | 't'];
      return Math.round(Number(m[1]) * base ** power);
    }),
]);
const int = z.coerce.number().int();
/** A duration in ms: a number, or a string with a unit (250ms, 10s, 2m, 500us). */
const durationMs = z.union([
  z.number().min(0),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(us|ms|s|m)?$/, 'a duration such as 50ms, 10s or 2m (a bare number is ms)')
    .transform((s) => {
      const m = /^(\d+(?:\.\d+)?)\s*(us|ms|s|m)?$/.exec(s.trim())!;
      return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 'ms') as 'us' | 'ms' | 's' | 'm'];
    }),
], { error: 'a duration such as 50ms, 10s or 2m (a bare number is ms)' });

export const serveOptionsSchema = z
  .object({
    modelRepository: z.string().min(1),
    httpPort: int.min(0).max(65535).default(8000),
    host: z.string().min(1).default('127.0.0.1'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** auto: readable lines and a start-up banner when stdout is a terminal, JSON lines otherwise. */
    logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
    httpEngine: z.enum(['auto', 'uws', 'node']).default('auto'),
    /** HTTP threads accepting on the port (uWS only); default: the CPUs this process can use (cli/cores.ts). */
    httpThreads: int.min(1).max(1024).optional(),
    /** Polling windows of the event loops and model runners (engine eventLoopSpinMicroseconds and spinMicroseconds). */
    spinMicroseconds: int.min(0).max(10_000).optional(),
    maxBodyBytes: bytes.default(64 * 1024 * 1024),
    /** Request bodies all connections together may hold at once (HTTP and gRPC); more get 503. */
    maxInflightBodyBytes: bytes.default(512 * 1024 * 1024),
    maxJsonDepth: int.min(2).max(10_000).default(DEFAULT_DECODE_LIMITS.maxJsonDepth),
    maxRequestElements: int.min(1).default(DEFAULT_DECODE_LIMITS.maxElements),
    /** Queue timeout of requests to models without a queue policy (0: none). */
    defaultRequestTimeout: durationMs.default(DEFAULT_ADMISSION.defaultTimeoutUs / 1000),
    /** Requests in flight per model version whose config sets no max_queue_size (0: unbounded). */
    maxQueueSize: int.min(0).default(DEFAULT_ADMISSION.maxQueueSize),
    admission: z.enum(['on', 'off']).default('on'),
    httpHeaderTimeout: durationMs.refine((ms) => ms >= 1, 'at least 1 ms').default(DEFAULT_TRANSPORT_LIMITS.headerTimeoutMs),
    httpRequestTimeout: durationMs.default(DEFAULT_TRANSPORT_LIMITS.requestTimeoutMs),
    lingerTimeout: durationMs.default(DEFAULT_TRANSPORT_LIMITS.lingerTimeoutMs),
    lingerBytes: bytes.default(DEFAULT_TRANSPORT_LIMITS.lingerBytes),
    /** Triton's gRPC port; 0 turns the gRPC front off. */
    grpcPort: int.min(0).max(65535).default(8001),
    grpcMaxMessageBytes: bytes
      .default(64 * 1024 * 1024)
      .refine((n) => n >= 1 && n <= 2 ** 31 - 1, 'from 1 byte to 2GiB - 1 (INT32_MAX, the most gRPC implementations take)'),
    adminToken: z.string().min(1).optional(),
    shutdownTimeout: z.coerce.number().min(0).default(30),
    modelControlMode: z.enum(['none', 'explicit', 'poll']).default('none'),
    loadModel: z.array(z.string().min(1)).default([]),
    repositoryPollSecs: z.coerce.number().positive().default(15),
    defaultMaxBatchSize: int.min(0).default(64),
    modelMemoryBudget: bytes.optional(),
    intraOpThreads: int.min(0).optional(),
    interOpThreads: int.min(0).optional(),
    /** Response cache levels: `local,size=BYTES` and/or `redis,url=redis://...[,ttl_s=N]`. */
    cache: z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v])).default([]),
    /** Predictive scaling: per-minute request-rate history, Holt-Winters forecast, recommended replicas. */
    forecast: z.boolean().default(false),
    forecastHorizons: z
      .string()
      .transform((text, ctx) => {
        try {
          return parseHorizons(text, 60);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional(),
    replicaCapacityRps: z.coerce.number().positive().optional(),
    targetUtilization: z.coerce.number().gt(0).max(1).optional(),
    /** Bucket bounds (seconds, ascending) of the per-model latency histogram. */
    latencyBuckets: z
      .union([z.string(), z.array(z.number())])
      .transform((v, ctx) => {
        const list = typeof v === 'string' ? v.split(',').map((x) => Number(x.trim())) : v;
        if (list.length === 0 || !list.every((x, i) => Number.isFinite(x) && x > 0 && (i === 0 || x > list[i - 1]!))) {
          ctx.addIssue({ code: 'custom', message: 'expected ascending positive seconds, comma-separated (e.g. 0.01,0.05,0.1,0.5)' });
        }
        return list;
      })
      .optional(),
    /** Tracing, as Triton's --trace-config: rate=N, level=TIMESTAMPS|OFF, count=N, url=..., resource=k=v, bsp_*. */
    traceConfig: z
      .union([z.string(), z.array(z.string())])
      .transform((v, ctx) => {
        const values = Array.isArray(v) ? v : [v];
        try {
          parseTraceConfig(values);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^--trace-config:? ?/, '') });
        }
        return values;
      })
      .default([]),
    /** Where routes keep their state across restarts (canary rollouts, weights set by hand, bandit and A/B statistics). */
    stateDir: z.string().min(1).optional(),
    /** Routes' state in Redis instead, shared by every replica. */
    stateRedis: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    // Forecast settings without --forecast would be accepted and do nothing: refuse them.
    if (!o.forecast) {
      for (const key of ['forecastHorizons', 'replicaCapacityRps', 'targetUtilization'] as const) {
        if (o[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'needs --forecast' });
      }
    }
    if (o.maxInflightBodyBytes < o.maxBodyBytes) {
      ctx.addIssue({ code: 'custom', path: ['maxInflightBodyBytes'], message: 'must be at least --max-body-bytes (else a body of the largest size allowed could never be taken)' });
    }
  });

export type ServeOptions = z.output<typeof serveOptionsSchema>;

const FLAGS = {
  'model-repository': { type: 'string' },
  'http-port': { type: 'string' },
  host: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'http-engine': { type: 'string' },
  'http-threads': { type: 'string' },
  'spin-microseconds': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-inflight-body-bytes': { type: 'string' },
  'max-json-depth': { type: 'string' },
  'max-request-elements': { type: 'string' },
  'default-request-timeout': { type: 'string' },
  'max-queue-size': { type: 'string' },
  admission: { type: 'string' },
  'http-header-timeout': { type: 'string' },
  'http-request-timeout': { type: 'string' },
  'linger-timeout': { type: 'string' },
  'linger-bytes': { type: 'string' },
  'grpc-port': { type: 'string' },
  'grpc-max-message-bytes': { type: 'string' },
  'admin-token': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'model-control-mode': { type: 'string' },
  'load-model': { type: 'string', multiple: true },
  'repository-poll-secs': { type: 'string' },
  'default-max-batch-size': { type: 'string' },
  'model-memory-budget': { type: 'string' },
  'intra-op-threads': { type: 'string' },
  'inter-op-threads': { type: 'string' },
  cache: { type: 'string', multiple: true },
  forecast: { type: 'boolean' },
  'forecast-horizons': { type: 'string' },
  'replica-capacity-rps': { type: 'string' },
  'target-utilization': { type: 'string' },
  'trace-config': { type: 'string', multiple: true },
  'latency-buckets': { type: 'string' },
  'state-dir': { type: 'string' },
  'state-redis': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const USAGE = `Usage: tensorgate serve --model-repository DIR [options]

  --model-repository DIR        Triton-style repository: DIR/<model>/[config.json|yaml], DIR/<model>/<version>/model.onnx
  --http-port N                 default 8000 (0: any free port)
  --host ADDR                   default 127.0.0.1
  --config FILE                 JSON or YAML with the same options in camelCase (flags win)
  --log-level LEVEL             fatal|error|warn|info|debug|trace|silent (default info)
  --log-format auto|json|pretty default auto: readable lines and a banner on a terminal, JSON lines otherwise
  --http-engine auto|uws|node   default auto: uWebSockets.js when it loads, else node:http
  --http-threads N              HTTP threads accepting on the port, default: the CPUs available (affinity,
                                capped by a cgroup CPU limit); uWS only: node:http serves on one thread
  --spin-microseconds N         default 50: how long event loops and model runners poll for a completion or
                                the next request before they sleep (models running over 20x longer never poll; 0: off)
  --max-body-bytes N            default 64MiB; larger bodies get 413 before they are read
  --max-inflight-body-bytes N   default 512MiB: request bodies held at once, all connections (more: 503)
  --max-json-depth N            default 64: deeper JSON bodies get 400 before they are parsed
  --max-request-elements N      default 16777216: tensor elements per request, all inputs (more: 400)
  --default-request-timeout T   default 50ms: the deadline requests to models without a queue policy are
                                admitted against (0: none): what cannot start in time gets 503 at once
  --max-queue-size N            default 1024: requests in flight per model version without max_queue_size (0: unbounded)
  --admission on|off            default on: refuse at once what cannot start before its deadline
  --http-header-timeout T       default 10s: a connection must send its request head within this
  --http-request-timeout T      default 60s: a request body must arrive within this (0: none)
  --linger-timeout T, --linger-bytes N   default 5s, 64MiB: after a 413, keep reading (and discarding)
                                an upload this long so that the client sees the answer
  --grpc-port N                 Triton's gRPC API on this port, default 8001 (0: off); same --host
  --grpc-max-message-bytes N    default 64MiB; larger gRPC messages get RESOURCE_EXHAUSTED
  --admin-token TOKEN           protects the repository API (or TENSORGATE_ADMIN_TOKEN)
  --shutdown-timeout SECONDS    default 30: how long SIGTERM waits for in-flight requests
  --model-control-mode MODE     none (load all at start) | explicit | poll
  --load-model NAME             explicit mode: load at start (repeatable, '*' = all)
  --repository-poll-secs N      poll mode: rescan interval (default 15)
  --default-max-batch-size N    for models without max_batch_size that can batch (default 64)
  --model-memory-budget BYTES   on-demand loading with LRU eviction above this size
  --intra-op-threads N          ONNX Runtime's process-wide intra-op pool
  --inter-op-threads N          ONNX Runtime's process-wide inter-op pool
  --cache SPEC                  response cache level, repeatable: local,size=BYTES | redis,url=redis://HOST:PORT[,ttl_s=N]
                                (models opt in with response_cache { enable: true } in their config)
  --forecast                    predictive scaling: per-minute request-rate history, Holt-Winters forecast,
                                tensorgate_{forecast_requests_per_second,replica_capacity_rps,recommended_replicas}
  --forecast-horizons LIST      default 5m,15m,1h: the horizon label of the forecast metrics
  --replica-capacity-rps N      requests/s one replica sustains (default: measured from busy minutes)
  --target-utilization F        share of capacity recommended replicas run at (default 0.7)
  --latency-buckets S,S,...     bucket bounds (seconds) of tensorgate_inference_request_duration_seconds
                                (default 0.001,0.0025,0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,10)
  --trace-config SETTING        OpenTelemetry tracing as Triton's, repeatable: level=TIMESTAMPS|OFF (default OFF),
                                rate=N (every Nth request, default 1000), count=N (-1: no limit), url=URL (OTLP/HTTP,
                                default http://localhost:4318/v1/traces), resource=KEY=VALUE, bsp_max_queue_size=N,
                                bsp_schedule_delay=MS, bsp_max_export_batch_size=N; several may share one flag, comma-separated
  --state-dir DIR               routes keep their state here across restarts (canary step, weights, bandit and A/B statistics)
  --state-redis URL             routes keep their state in Redis instead, shared by every replica (redis://HOST:PORT[/DB])
`;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions | 'help' {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  let fromFile: Record<string, unknown> = {};
  if (values.config) {
    const text = readFileSync(values.config, 'utf8');
    const raw: unknown = values.config.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (raw === null || typeof raw !== 'object') throw new Error(`${values.config}: expected an object of options`);
    fromFile = raw as Record<string, unknown>;
  }
  const fromFlags: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (flag === 'config' || flag === 'help' || value === undefined) continue;
    fromFlags[camel(flag)] = value;
  }
  const merged = { ...fromFile, ...fromFlags };
  if (merged.adminToken === undefined && env.TENSORGATE_ADMIN_TOKEN) merged.adminToken = env.TENSORGATE_ADMIN_TOKEN;
  if (merged.stateDir !== undefined && merged.stateRedis !== undefined) throw new Error('--state-dir and --state-redis: give one of them');
  const result = serveOptionsSchema.safeParse(merged);
  if (!result.success) {
    const kebab = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new Error(result.error.issues.map((i) => `${i.path.length ? kebab(String(i.path[0])) : 'options'}: ${i.message}`).join('; '));
  }
  return result.data;
}
