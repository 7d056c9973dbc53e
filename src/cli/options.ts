// `tensorgate serve` options: flags, an optional config file with the same keys (JSON or YAML), and
// environment variables for secrets. Validated once, with messages that name the option.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

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

export const serveOptionsSchema = z
  .object({
    modelRepository: z.string().min(1),
    httpPort: int.min(0).max(65535).default(8000),
    host: z.string().min(1).default('127.0.0.1'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** auto: readable lines and a start-up banner when stdout is a terminal, JSON lines otherwise. */
    logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
    httpEngine: z.enum(['auto', 'uws', 'node']).default('auto'),
    maxBodyBytes: bytes.default(64 * 1024 * 1024),
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
  })
  .strict();

export type ServeOptions = z.output<typeof serveOptionsSchema>;

const FLAGS = {
  'model-repository': { type: 'string' },
  'http-port': { type: 'string' },
  host: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'http-engine': { type: 'string' },
  'max-body-bytes': { type: 'string' },
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
  --max-body-bytes N            default 64MiB; larger bodies get 413 before they are read
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
  const result = serveOptionsSchema.safeParse(merged);
  if (!result.success) {
    const kebab = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new Error(result.error.issues.map((i) => `${i.path.length ? kebab(String(i.path[0])) : 'options'}: ${i.message}`).join('; '));
  }
  return result.data;
}
