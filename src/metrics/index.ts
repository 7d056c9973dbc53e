// tensorgate's /metrics: the Prometheus text exposition of the model server.
//
//   const metrics = new ServerMetrics({ prefix?: 'tensorgate_', defaultMetrics?: true, registry?: Registry });
//   metrics.registry                                   // the prom-client Registry (add your own metrics to it)
//   metrics.trackModel(name, version, model)           // any StatsSource ({ stats(): NativeModelStats }); a Model is one
//   metrics.untrackModel(name, version)                // its series vanish from the next scrape
//   metrics.forgetModel(name, version)                 // untrack + drop its state and load-failure series
//   metrics.observeHttp(route, method, status, secs)   // per request: route is the route template
//   metrics.observeInference(model, secs)              // per successful inference (the SLO histogram)
//   metrics.modelLoadFailed(name, version)
//   metrics.setModelState(name, version, 'READY' | 'LOADING' | 'UNAVAILABLE' | 'UNLOADING')
//   metrics.cacheHit(level: 'l1' | 'l2', model, secs)
//   metrics.cacheMiss(level, model, secs, final = true) // final=false: an L1 miss that goes on to L2
//   metrics.cacheError(level, reason)
//   metrics.addThreads(source)                         // HTTP worker threads' counts summed in at each scrape
//   const { contentType, body } = await metrics.scrape()
//
// Per-model inference metrics cost nothing per request: the native scheduler keeps cumulative
// counters and log-spaced histograms, and a scrape reads each tracked model's stats() once and
// writes them as Triton's nv_inference_* counters and tensorgate_*_duration_seconds histograms.
// Per-request metrics (HTTP, cache, the per-model SLO latency histogram) update pre-resolved series: a few Map lookups, one increment and a
// binary search over the bucket bounds; no label hashing, no allocation after the first request of a
// (route, method, status). The metric names are listed in src/metrics/README.md.
export {
  CACHE_DURATION_BUCKETS,
  HTTP_DURATION_BUCKETS,
  LATENCY_SLO_BUCKETS,
  MODEL_STATES,
  ServerMetrics,
  httpRequestFamilies,
  type CacheLevel,
  type ThreadMetricsSnapshot,
  type ThreadMetricsSource,
  type ModelState,
  type ServerMetricsOptions,
  type TracingSource,
} from './server-metrics.js';
export { ResourceMetrics, type GpuReader } from './resources.js';
export {
  BATCH_SIZE_BUCKETS,
  EXPORTED_NATIVE_BUCKETS,
  FAILURE_REASONS,
  NATIVE_HISTOGRAM_BUCKETS,
  nativeBucketBound,
  type StatsSource,
} from './native.js';
export { RequestFamilies, type RequestSnapshot } from './request-families.js';
export { BucketLayout, HistogramCell, logBuckets, ScrapeFamily, type FamilyType, type Labels, type Sample } from './family.js';
