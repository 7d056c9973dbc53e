// `tensorgate serve --forecast`: the forecast fed from the server's own counters, exported on /metrics.
import type { ServerMetrics } from '../metrics/index.js';
import { FORECAST_DEFAULTS, parseHorizons } from './duration.js';
import { forecastFamilies } from './families.js';
import type { Horizon } from './forecaster.js';
import { ServerForecast } from './server-forecast.js';

export interface ServeForecastOptions {
  forecast: boolean;
  forecastHorizons?: Horizon[] | undefined;
  replicaCapacityRps?: number | undefined;
  targetUtilization?: number | undefined;
}

/** Starts the forecast when `--forecast` asks for it; undefined otherwise. */
export function startServerForecast(options: ServeForecastOptions, metrics: ServerMetrics): ServerForecast | undefined {
  if (!options.forecast) return undefined;
  const forecast = new ServerForecast({
    totals: () => metrics.inferenceTotals(),
    horizons: options.forecastHorizons ?? parseHorizons(FORECAST_DEFAULTS.horizons, 60),
    ...(options.replicaCapacityRps !== undefined ? { capacityRps: options.replicaCapacityRps } : {}),
    targetUtilization: options.targetUtilization ?? FORECAST_DEFAULTS.targetUtilization,
  });
  metrics.register(forecastFamilies(metrics.prefix, () => forecast.reading()));
  forecast.start();
  return forecast;
}
