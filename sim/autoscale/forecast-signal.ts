// The predictive trigger's value over a replay, computed the way `tensorgate forecast` would: the
// per-minute request rate of the days before and of the replay so far (read two minutes late, as the
// forecaster reads "the minute before last"), Holt-Winters refitted every hour, and the replicas the
// peak of the horizon needs. Uses src/forecast, the code the forecaster runs.
import { recommendedReplicas, RateForecaster } from '../../src/forecast/index.js';

export interface ForecastSignalOptions {
  /** Per-minute rates before the replay (oldest first). */
  history: Float64Array;
  /** Per-minute rates of the replay. */
  replay: Float64Array;
  horizonMinutes: number;
  /** Minutes between a minute ending and the forecaster reading it. */
  lagMinutes?: number;
}

/** Peak forecast rate within the horizon, per minute of the replay. */
export function forecastPeaks(o: ForecastSignalOptions): Float64Array {
  const lag = o.lagMinutes ?? 2;
  const forecaster = new RateForecaster({ period: 1440, horizons: [{ label: 'h', steps: o.horizonMinutes }], refitEvery: 60 });
  const first = o.history.length;
  forecaster.load(o.history, first - 1);
  const out = new Float64Array(o.replay.length);
  let known = first - 1;
  for (let m = 0; m < o.replay.length; m++) {
    // At minute m the forecaster has read up to minute m - lag of the replay.
    while (known < first + m - lag) {
      known++;
      forecaster.put(known, o.replay[known - first]!);
    }
    // The forecast was made `m - known` minutes ago: its horizon covers what is left of it.
    out[m] = forecaster.forecast()[0]!.peakRps;
  }
  return out;
}

/** Recommended replicas per minute from the peaks (what tensorgate_recommended_replicas exports). */
export function recommendedByMinute(peaks: Float64Array, capacityRps: number, targetUtilization: number): Float64Array {
  return peaks.map((p) => recommendedReplicas(p, capacityRps, targetUtilization));
}
