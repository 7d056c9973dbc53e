// `tensorgate forecast`: reads the cluster's request rate from Prometheus once a minute, keeps the
// forecast, and serves the same three metrics as `tensorgate serve --forecast` on its own /metrics,
// for KEDA (through Prometheus) to scale on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ScrapeFamily } from '../metrics/family.js';
import { forecastFamilies } from './families.js';
import { RateForecaster, type Horizon } from './forecaster.js';
import { PrometheusSource } from './prometheus-source.js';

export interface ForecastServiceOptions {
  prometheusUrl: string;
  /** PromQL for the request rate, one series. */
  query: string;
  /** PromQL for one replica's capacity, used when `replicaCapacityRps` is not given. */
  capacityQuery: string;
  replicaCapacityRps?: number | undefined;
  targetUtilization: number;
  horizons: Horizon[];
  historyMinutes: number;
  host: string;
  port: number;
  logger: Logger;
  now?: () => number;
}

export class ForecastService {
  readonly forecaster: RateForecaster;
  readonly registry = new Registry();
  readonly #options: ForecastServiceOptions;
  readonly #source: PrometheusSource;
  readonly #now: () => number;
  readonly #http: Server;
  #capacityRps: number | undefined;
  #failures = 0;
  #loaded = false;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  private constructor(options: ForecastServiceOptions) {
    this.#options = options;
    this.#source = new PrometheusSource(options.prometheusUrl);
    this.#now = options.now ?? Date.now;
    this.forecaster = new RateForecaster({ period: 1440, historySteps: options.historyMinutes, horizons: options.horizons, background: true });
    this.#capacityRps = options.replicaCapacityRps;
    const prefix = 'tensorgate_';
    const families = [
      ...forecastFamilies(prefix, () => ({
        forecasts: this.forecaster.forecast(),
        capacityRps: this.#capacityRps,
        targetUtilization: options.targetUtilization,
      })),
      new ScrapeFamily(`${prefix}forecast_history_minutes`, 'Minutes of request-rate history with a value', 'gauge', (out) => {
        out.push({ labels: {}, value: this.forecaster.history.values().filter(Number.isFinite).length });
      }),
      new ScrapeFamily(`${prefix}forecast_query_failures_total`, 'Prometheus queries that failed', 'counter', (out) => {
        out.push({ labels: {}, value: this.#failures });
      }),
    ];
    for (const f of families) f.registerIn(this.registry);
    this.#http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { 'content-type': 'application/json' }).end('{"error":"only GET"}');
      } else if (path === '/metrics') {
        this.registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
          (err: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })),
        );
      } else if (path === '/healthz') {
        res.writeHead(200).end();
      } else if (path === '/ready') {
        // Ready once a history has been read: before that the forecast series are absent.
        res.writeHead(this.#loaded ? 200 : 503).end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    });
  }

  /** Listens, reads the history (a failure is logged and retried every minute) and refreshes every minute. */
  static async start(options: ForecastServiceOptions): Promise<ForecastService> {
    const service = new ForecastService(options);
    await new Promise<void>((resolve, reject) => {
      service.#http.once('error', reject);
      service.#http.listen(options.port, options.host, () => resolve());
    });
    await service.refresh();
    service.#timer = setInterval(() => void service.refresh(), 60_000);
    return service;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** Reads the minutes Prometheus has that the history lacks (all of them the first time) and the capacity. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const { logger, query, historyMinutes } = this.#options;
    // The minute before last: Prometheus may still be scraping the last one.
    const lastMinute = Math.floor(this.#now() / 60_000) - 2;
    try {
      const known = this.forecaster.history.lastStep;
      if (!this.#loaded || known === undefined) {
        const values = await this.#source.minutes(query, lastMinute - historyMinutes + 1, lastMinute);
        this.forecaster.load(values, lastMinute);
        this.#loaded = true;
        logger.info({ minutes: values.filter(Number.isFinite).length, seasonal: this.forecaster.seasonal }, 'history read');
      } else if (lastMinute > known) {
        const values = await this.#source.minutes(query, known + 1, lastMinute);
        values.forEach((v, i) => this.forecaster.put(known + 1 + i, v));
      }
    } catch (err) {
      this.#failures++;
      logger.error({ err: (err as Error).message }, 'cannot read the request rate from Prometheus');
    }
    if (this.#options.replicaCapacityRps === undefined) {
      try {
        const c = await this.#source.instant(this.#options.capacityQuery);
        this.#capacityRps = c !== undefined && c > 0 ? c : undefined;
      } catch (err) {
        this.#failures++;
        logger.error({ err: (err as Error).message }, 'cannot read the replica capacity from Prometheus');
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}
