export {
  defaultSeasonSpread,
  fit,
  fitSearch,
  HoltWinters,
  initialState,
  PARAMETER_GRID,
  run,
  runSteps,
  seasonKernel,
  type FitResult,
  type HoltWintersParams,
} from './holt-winters.js';
export { CounterDelta, StepHistory } from './history.js';
export { CapacityEstimator, IDLE_SHARE, recommendedReplicas, type CapacityOptions } from './capacity.js';
export { RateForecaster, type ForecasterOptions, type Horizon, type HorizonForecast } from './forecaster.js';
export { FORECAST_METRICS, forecastFamilies, type ForecastReading } from './families.js';
export { ServerForecast, type InferenceTotals, type ServerForecastOptions } from './server-forecast.js';
export { FORECAST_DEFAULTS, parseDuration, parseHorizons } from './duration.js';
export { ForecastService, type ForecastServiceOptions } from './forecast-service.js';
export { DEFAULT_CAPACITY_QUERY, DEFAULT_RATE_QUERY, PrometheusSource } from './prometheus-source.js';
