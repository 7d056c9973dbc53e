// `tensorgate serve`: engine, repository, cache, metrics, the inference service and its fronts wired
// together, with a graceful shutdown: readiness off, every front stops accepting and finishes its
// in-flight requests, then models unload and the cache closes.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { Engine } from '../engine/index.js';
import { nativeBinding } from '../engine/binding.js';
import { parseCacheFlags, ResponseCache } from '../cache/index.js';
import { ServerMetrics } from '../metrics/index.js';
import { startServerForecast } from '../forecast/serve-wiring.js';
import { ModelRepository } from '../repository/repository.js';
import type { ServedVersion } from '../repository/index.js';
import { InferenceService, inferInProcess, ServerControl } from '../inference/index.js';
import { ModelMonitors } from '../monitoring/monitors.js';
import { TraceControl } from '../tracing/control.js';
import { createOtlpSink, type SpanSink } from '../tracing/otlp.js';
import { parseTraceConfig } from '../tracing/settings.js';
import { routeStatuses } from '../status/routes.js';
import { StatusTracker } from '../status/snapshot.js';
import { readMemory } from '../metrics/resources.js';
import { GrpcFront } from '../grpc/front.js';
import { BodyBudget } from '../server/body-budget.js';
import { HttpFront } from '../server/server.js';
import { waitFor } from '../server/transport.js';
import { ROUTE_PLATFORM } from '../repository/routing-schema.js';
import { RoutingControl } from '../routing/control.js';
import { routingFamilies } from '../routing/metrics.js';
import { RedisStateStore } from '../routing/redis-state.js';
import { RoutingRuntime } from '../routing/runtime.js';
import { FileStateStore, MemoryStateStore, type StateStore } from '../routing/state-store.js';
import type { ServeOptions } from './options.js';

export interface RunningServer {
  server: HttpFront;
  tracing: TraceControl;
  monitors: ModelMonitors;
  /** The gRPC front, unless --grpc-port 0 turned it off. */
  grpc?: GrpcFront;
  grpcPort?: number;
  service: InferenceService;
  control: ServerControl;
  repository: ModelRepository;
  /** The routes' live state (traffic management). */
  routing: RoutingRuntime;
  port: number;
  logger: Logger;
  stop(): Promise<boolean>;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function startServer(options: ServeOptions, logger: Logger = pino({ level: options.logLevel })): Promise<RunningServer> {
  const engine = Engine.create({
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads !== undefined ? { interOpThreads: options.interOpThreads } : {}),
    logger,
  });
  logger.info({ ort: engine.runtime.ortVersion, library: engine.runtime.library }, 'ONNX Runtime loaded');
  const metrics = new ServerMetrics({
    ...(options.latencyBuckets !== undefined ? { latencyBuckets: options.latencyBuckets } : {}),
    gpu: () => nativeBinding().gpuDevices?.(),
  });
  const version = packageVersion();
  const traceConfig = parseTraceConfig(options.traceConfig);
  const tracing: TraceControl = new TraceControl({
    config: traceConfig,
    sink: (): Promise<SpanSink> => {
      logger.info({ url: traceConfig.export.url ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? 'http://localhost:4318/v1/traces' }, 'tracing: exporting OTLP/HTTP');
      let warnedAt = -Infinity;
      return createOtlpSink({
        settings: traceConfig.export,
        version,
        counts: tracing.counts,
        onFailure: (err, spans) => {
          // At most once a minute: a collector that is down fails every batch.
          if (performance.now() - warnedAt < 60_000) return;
          warnedAt = performance.now();
          logger.warn({ err: err?.message, spans }, 'tracing: spans could not be exported (tensorgate_trace_spans_exported_total{result="failure"} counts them)');
        },
      });
    },
  });
  await tracing.start();
  metrics.trackTracing(tracing);
  const monitors = new ModelMonitors();
  monitors.registerIn(metrics.registry, metrics.prefix);
  const forecast = startServerForecast(options, metrics);
  const cache =
    options.cache.length > 0
      ? await ResponseCache.create(parseCacheFlags(options.cache), {
          sink: {
            hit: (level, model, seconds) => metrics.cacheHit(level, model, seconds),
            miss: (level, model, seconds, final) => metrics.cacheMiss(level, model, seconds, final),
            error: (level, reason) => metrics.cacheError(level, reason),
          },
          logger,
        })
      : undefined;
  if (cache) metrics.trackCacheState(() => cache.l2State);
  let store: StateStore;
  try {
    store = options.stateRedis !== undefined ? await RedisStateStore.open({ url: options.stateRedis }) : options.stateDir !== undefined ? new FileStateStore(resolve(options.stateDir)) : new MemoryStateStore();
  } catch (err) {
    await cache?.close();
    await tracing.shutdown();
    throw err;
  }
  const routing = new RoutingRuntime({ store, logger });
  for (const family of routingFamilies(metrics.prefix, routing)) family.registerIn(metrics.registry);
  let repository: ModelRepository;
  try {
    repository = await ModelRepository.open({
    root: resolve(options.modelRepository),
    engine,
    controlMode: options.modelControlMode,
    startupModels: options.loadModel,
    pollSeconds: options.repositoryPollSecs,
    defaultMaxBatchSize: options.defaultMaxBatchSize,
    ...(options.modelMemoryBudget !== undefined ? { memoryBudgetBytes: options.modelMemoryBudget } : {}),
    logger,
    routing,
    hooks: {
      served: (i) => {
        if (i.platform !== ROUTE_PLATFORM) metrics.trackModel(i.name, i.versionLabel, i.model); // a route runs no model
        if (i.monitoring) monitors.attach(i, i.name, i.versionLabel, i.monitoring);
        if (i.config.response_cache?.enable && !cache) {
          logger.warn({ model: i.name }, 'response_cache is enabled for this model but the server has no --cache level');
        }
      },
      retired: (i) => {
        monitors.detach(i);
        if (!repository.served(i.name, i.versionLabel).length) metrics.untrackModel(i.name, i.versionLabel);
      },
      state: (name, version, state) => metrics.setModelState(name, version, state),
      loadFailed: (name, version) => metrics.modelLoadFailed(name, version),
    },
    });
  } catch (err) {
    forecast?.stop();
    await cache?.close(); // do not leave a Redis connection behind
    await routing.close();
    await tracing.shutdown();
    throw err;
  }
  const observer = { succeeded: (target: ServedVersion, seconds: number) => metrics.observeInference(target.model, seconds) };
  const service = new InferenceService({
    repository,
    cache,
    tracing,
    monitors,
    observer,
    limits: { maxJsonDepth: options.maxJsonDepth, maxElements: options.maxRequestElements },
    admission: {
      enabled: options.admission === 'on',
      defaultTimeoutUs: Math.round(options.defaultRequestTimeout * 1000),
      maxQueueSize: options.maxQueueSize,
    },
  });
  // Ensemble steps and calls from JavaScript models that target a route go through the stages.
  repository.setInvoker((model, version, inputs, opts) => inferInProcess(service, model, version, inputs, opts));
  const control = new ServerControl({ repository, cache, version, adminToken: options.adminToken, tracing, monitors });
  if (options.adminToken === undefined && options.modelControlMode === 'explicit') {
    logger.warn(
      { modelControlMode: options.modelControlMode, host: options.host },
      'the repository API (load/unload, with configs given in the request) is open to anyone who can reach this port: set --admin-token or TENSORGATE_ADMIN_TOKEN',
    );
  }
  const budget = new BodyBudget(options.maxInflightBodyBytes);
  const status = new StatusTracker({
    version,
    models: () => repository.index(),
    served: () => repository.allServed(),
    ready: () => control.ready(),
    draining: () => control.draining,
    ...(cache ? { cacheStats: (key: string) => cache.modelStats(key), cacheL2State: () => (cache.l2State === 'disabled' ? undefined : cache.l2State) } : {}),
    monitors,
    tracing: () => tracing.settings(),
    cpuUtilization: () => metrics.cpuUtilization(),
    memory: () => readMemory(),
    gpus: () => nativeBinding().gpuDevices?.(),
    routes: () => routeStatuses(routing),
  });
  const server = new HttpFront({
    service,
    control,
    routing: new RoutingControl(repository),
    metrics,
    status,
    logger,
    host: options.host,
    port: options.httpPort,
    httpEngine: options.httpEngine,
    maxBodyBytes: options.maxBodyBytes,
    limits: {
      headerTimeoutMs: options.httpHeaderTimeout,
      requestTimeoutMs: options.httpRequestTimeout,
      lingerTimeoutMs: options.lingerTimeout,
      lingerBytes: options.lingerBytes,
    },
    budget,
  });
  const grpc =
    options.grpcPort > 0
      ? new GrpcFront({
          service,
          control,
          metrics,
          logger,
          host: options.host,
          port: options.grpcPort,
          maxMessageBytes: options.grpcMaxMessageBytes,
          budget,
        })
      : undefined;
  let port: number;
  let grpcPort: number | undefined;
  try {
    port = await server.listen();
    grpcPort = await grpc?.listen();
  } catch (err) {
    // A port in use: give back what started (the other front, models, a Redis connection).
    forecast?.stop();
    if (server.port > 0) await server.close(0);
    await repository.close();
    await cache?.close();
    await tracing.shutdown();
    throw err;
  }
  const fronts = grpc ? [server, grpc] : [server];
  const inflight = () => fronts.reduce((n, f) => n + f.inflight, 0);
  let stopping: Promise<boolean> | undefined;
  const stop = async (timeoutMs: number): Promise<boolean> => {
    forecast?.stop();
    control.startDraining();
    for (const front of fronts) front.stopAccepting();
    const drained = await waitFor(inflight, timeoutMs);
    if (!drained) logger.warn({ inflight: inflight() }, 'shutdown timeout: closing with requests in flight');
    await Promise.all(fronts.map((front) => front.close(Math.max(1000, timeoutMs / 2))));
    await Promise.race([repository.close(), new Promise((r) => setTimeout(r, Math.max(100, timeoutMs / 4)))]);
    await routing.close(); // the routes' state is saved
    await cache?.close();
    await tracing.shutdown(); // exports what is queued
    return drained;
  };
  return {
    server,
    tracing,
    monitors,
    ...(grpc ? { grpc, grpcPort: grpcPort! } : {}),
    service,
    control,
    repository,
    routing,
    port,
    logger,
    stop: () => (stopping ??= stop(options.shutdownTimeout * 1000)),
  };
}
