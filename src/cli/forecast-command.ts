// `tensorgate forecast`: the predictive-scaling metrics for a whole deployment, computed next to
// Prometheus from the request rate of every replica (see src/forecast/forecast-service.ts).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { z } from 'zod';
import { FORECAST_DEFAULTS, parseDuration, parseHorizons } from '../forecast/duration.js';
import { ForecastService } from '../forecast/forecast-service.js';
import { DEFAULT_CAPACITY_QUERY, DEFAULT_RATE_QUERY } from '../forecast/prometheus-source.js';
import type { Command } from './commands.js';

const checked = <T>(parse: (s: string) => T) =>
  z.string().transform((text, ctx) => {
    try {
      return parse(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const schema = z
  .object({
    prometheusUrl: z.url(),
    query: z.string().min(1).default(DEFAULT_RATE_QUERY),
    capacityQuery: z.string().min(1).default(DEFAULT_CAPACITY_QUERY),
    replicaCapacityRps: z.coerce.number().positive().optional(),
    targetUtilization: z.coerce.number().gt(0).max(1).default(FORECAST_DEFAULTS.targetUtilization),
    horizons: checked((s) => parseHorizons(s, 60)).default(parseHorizons(FORECAST_DEFAULTS.horizons, 60)),
    history: checked((s) => Math.ceil(parseDuration(s) / 60)).default(7 * 1440),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(9400),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type ForecastCommandOptions = z.output<typeof schema>;

const FLAGS = {
  'prometheus-url': { type: 'string' },
  query: { type: 'string' },
  'capacity-query': { type: 'string' },
  'replica-capacity-rps': { type: 'string' },
  'target-utilization': { type: 'string' },
  horizons: { type: 'string' },
  history: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const FORECAST_USAGE = `Usage: tensorgate forecast --prometheus-url URL [options]

Reads the deployment's request rate from Prometheus once a minute, forecasts it (Holt-Winters with daily
seasonality) and serves tensorgate_forecast_requests_per_second{horizon}, tensorgate_replica_capacity_rps
and tensorgate_recommended_replicas{horizon} on /metrics (and /healthz, /ready).

  --prometheus-url URL          Prometheus's HTTP API, e.g. http://prometheus.monitoring:9090
  --query PROMQL                the request rate, one series (default: every replica's inference requests/s:
                                ${DEFAULT_RATE_QUERY})
  --capacity-query PROMQL       one replica's capacity (default ${DEFAULT_CAPACITY_QUERY},
                                which replicas export under tensorgate serve --forecast)
  --replica-capacity-rps N      a fixed capacity instead of the query
  --target-utilization F        share of capacity recommended replicas run at (default ${FORECAST_DEFAULTS.targetUtilization})
  --horizons LIST               default ${FORECAST_DEFAULTS.horizons}
  --history DURATION            history read and kept (default 7d; two days make the season)
  --host ADDR, --port N         default 127.0.0.1, 9400
  --log-level LEVEL             default info
`;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseForecastArgs(argv: string[]): ForecastCommandOptions | 'help' {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  const raw: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) if (value !== undefined) raw[camel(flag)] = value;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const kebab = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new Error(result.error.issues.map((i) => `${i.path.length ? kebab(String(i.path[0])) : 'options'}: ${i.message}`).join('; '));
  }
  return result.data;
}

export const FORECAST_COMMAND: Command = {
  summary: 'forecast a deployment’s request rate from Prometheus and export recommended replicas (for KEDA)',
  async run(argv: string[]): Promise<number> {
    let options;
    try {
      options = parseForecastArgs(argv);
    } catch (err) {
      process.stderr.write(`tensorgate forecast: ${(err as Error).message}\n\n${FORECAST_USAGE}`);
      return 2;
    }
    if (options === 'help') {
      process.stdout.write(FORECAST_USAGE);
      return 0;
    }
    const logger = pino({ level: options.logLevel });
    let service: ForecastService;
    try {
      service = await ForecastService.start({ ...options, historyMinutes: options.history, logger });
    } catch (err) {
      logger.fatal({ err: (err as Error).message }, 'cannot start');
      return 1;
    }
    logger.info({ port: service.port }, 'listening');
    return new Promise<number>((resolveExit) => {
      const stop = () => void service.stop().then(() => resolveExit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  },
};
