// The predictive-scaling metrics, produced at scrape time from a forecast reading. Both the server
// (`--forecast`) and `tensorgate forecast` export exactly these, so one KEDA trigger fits either.
import { ScrapeFamily, type Sample } from '../metrics/family.js';
import { recommendedReplicas } from './capacity.js';
import type { HorizonForecast } from './forecaster.js';

export interface ForecastReading {
  /** Empty before there is any history. */
  forecasts: HorizonForecast[];
  /** Requests per second one replica sustains; undefined until measured or configured. */
  capacityRps: number | undefined;
  /** The share of capacity a replica should run at (recommended replicas leave the rest as headroom). */
  targetUtilization: number;
}

export const FORECAST_METRICS = {
  forecast: 'forecast_requests_per_second',
  capacity: 'replica_capacity_rps',
  recommended: 'recommended_replicas',
} as const;

export function forecastFamilies(prefix: string, read: () => ForecastReading): ScrapeFamily[] {
  let reading: ForecastReading | undefined;
  // The Registry asks each family in one synchronous pass: read once per scrape, so all three agree.
  const current = (): ForecastReading => {
    if (!reading) {
      const r = (reading = read());
      queueMicrotask(() => {
        if (reading === r) reading = undefined;
      });
    }
    return reading;
  };
  return [
    new ScrapeFamily(
      `${prefix}${FORECAST_METRICS.forecast}`,
      'Highest forecast request rate (Holt-Winters with daily seasonality) within the horizon, requests per second',
      'gauge',
      (out: Sample[]) => {
        for (const f of current().forecasts) out.push({ labels: { horizon: f.horizon }, value: f.peakRps });
      },
    ),
    new ScrapeFamily(
      `${prefix}${FORECAST_METRICS.capacity}`,
      'Requests per second one replica sustains: measured under load (requests per second of model execution) or configured',
      'gauge',
      (out: Sample[]) => {
        const c = current().capacityRps;
        if (c !== undefined) out.push({ labels: {}, value: c });
      },
    ),
    new ScrapeFamily(
      `${prefix}${FORECAST_METRICS.recommended}`,
      'Replicas needed for the forecast peak within the horizon: ceil(forecast / (capacity * target utilization))',
      'gauge',
      (out: Sample[]) => {
        const r = current();
        if (r.capacityRps === undefined) return;
        for (const f of r.forecasts) {
          out.push({ labels: { horizon: f.horizon }, value: recommendedReplicas(f.peakRps, r.capacityRps, r.targetUtilization) });
        }
      },
    ),
  ];
}
