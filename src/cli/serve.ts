// `tensorgate serve`: engine, repository, cache, metrics, the inference service and its fronts wired
// together, with a graceful shutdown: readiness off, every front stops accepting and finishes its
// in-flight requests, then models unload and the cache closes.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
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
import { AdmissionStage } from '../inference/stages/admission.js';
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
import { HttpThreadPool } from '../server/threads/pool.js';
import { V2Router } from '../server/v2-router.js';
import { ROUTE_PLATFORM } from '../repository/routing-schema.js';
import { RoutingControl } from '../routing/control.js';
import { routingFamilies } from '../routing/metrics.js';
import { RedisStateStore } from '../routing/redis-state.js';
import { RoutingRuntime } from '../routing/runtime.js';
import { FileStateStore, MemoryStateStore, type StateStore } from '../routing/state-store.js';
import { availableCores } from './cores.js';
import type { ServeOptions } from './options.js';

export interface RunningServer {
  server: HttpFront;
  /** HTTP threads serving the port (1: the main thread alone). */
  httpThreads: number;
  /** The HTTP worker threads, when there are more than one. */
  threads?: HttpThreadPool;
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

/** How many HTTP threads serve the port: --http-threads, else every CPU the process can use; 1 where node:http serves. */
function httpThreadCount(options: ServeOptions, logger: Logger): number {
  const wanted = options.httpThreads ?? availableCores();
  if (wanted === 1 || HttpFront.transportKind(options.httpEngine) === 'uws') return wanted;
  if (options.httpThreads !== undefined && options.httpEngine === 'node') {
    throw new Error(`--http-threads ${wanted} needs the uWebSockets.js transport: node:http cannot share a port between threads on Node 20 (use --http-threads 1)`);
  }
  logger.info({ wanted }, 'node:http serves HTTP on one thread');
  return 1;
}

/** A port no one listens on now, for the HTTP threads to share (each must name the same port). */
function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

export async function startServer(options: ServeOptions, logger: Logger = pino({ level: options.logLevel })): Promise<RunningServer> {
  const httpThreads = httpThreadCount(options, logger);
  const engine = Engine.create({
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads !== undefined ? { interOpThreads: options.interOpThreads } : {}),
    ...(options.spinMicroseconds !== undefined ? { eventLoopSpinMicroseconds: options.spinMicroseconds, spinMicroseconds: options.spinMicroseconds } : {}),
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
  let threads: HttpThreadPool | undefined; // set once the HTTP threads listen; the hooks below tell them what they serve
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
        threads?.publish();
        if (i.platform !== ROUTE_PLATFORM) metrics.trackModel(i.name, i.versionLabel, i.model); // a route runs no model
        if (i.monitoring) monitors.attach(i, i.name, i.versionLabel, i.monitoring);
        if (i.config.response_cache?.enable && !cache) {
          logger.warn({ model: i.name }, 'response_cache is enabled for this model but the server has no --cache level');
        }
      },
      retiring: () => threads?.publish(),
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
  const decodeLimits = { maxJsonDepth: options.maxJsonDepth, maxElements: options.maxRequestElements };
  const admission = {
    enabled: options.admission === 'on',
    defaultTimeoutUs: Math.round(options.defaultRequestTimeout * 1000),
    maxQueueSize: options.maxQueueSize,
  };
  const service = new InferenceService({
    repository,
    cache,
    tracing,
    monitors,
    observer,
    limits: decodeLimits,
    admission,
  });
  const admissionStage = service.stages.find((s): s is AdmissionStage => s instanceof AdmissionStage)!;
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
  const router = new V2Router({ service, control, routing: new RoutingControl(repository), metrics, status, logger, maxBodyBytes: options.maxBodyBytes });
  // Every HTTP thread names the same port (the kernel spreads connections over their sockets).
  const httpPort = httpThreads > 1 && options.httpPort === 0 ? await freePort(options.host) : options.httpPort;
  const transportLimits = {
    headerTimeoutMs: options.httpHeaderTimeout,
    requestTimeoutMs: options.httpRequestTimeout,
    lingerTimeoutMs: options.lingerTimeout,
    lingerBytes: options.lingerBytes,
  };
  const server = new HttpFront({
    router,
    metrics,
    logger,
    host: options.host,
    port: httpPort,
    httpEngine: options.httpEngine,
    maxBodyBytes: options.maxBodyBytes,
    limits: transportLimits,
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
    if (server.transportKind !== 'uws' && httpThreads > 1) throw new Error('uWebSockets.js did not load: the HTTP threads cannot start');
    if (httpThreads > 1) {
      threads = await HttpThreadPool.start({
        workers: httpThreads - 1,
        setup: {
          host: options.host,
          port,
          maxBodyBytes: options.maxBodyBytes,
          logLevel: options.logLevel,
          eventLoopSpinMicroseconds: engine.polling.eventLoopSpinMicroseconds,
          latencyBuckets: [...metrics.latencyBuckets],
          transportLimits,
          bodyBudget: { limit: budget.limit, memory: budget.memory },
          decodeLimits,
          admission,
        },
        front: server,
        repository,
        tracing,
        admission: (served) => admissionStage.load(served).memory,
        logger,
      });
      metrics.addThreads(threads);
    }
    logger.info({ host: options.host, port, transport: server.transportKind, threads: httpThreads }, 'listening');
    grpcPort = await grpc?.listen();
  } catch (err) {
    // A port in use: give back what started (the other front, models, a Redis connection).
    forecast?.stop();
    await threads?.close(0);
    if (server.port > 0) await server.close(0);
    await repository.close();
    await cache?.close();
    await tracing.shutdown();
    throw err;
  }
  const fronts: Array<Pick<HttpFront, 'stopAccepting' | 'drained' | 'close'>> = [server, ...(threads ? [threads] : []), ...(grpc ? [grpc] : [])];
  let stopping: Promise<boolean> | undefined;
  const stop = async (timeoutMs: number): Promise<boolean> => {
    forecast?.stop();
    control.startDraining();
    threads?.startDraining();
    for (const front of fronts) front.stopAccepting();
    // The main thread keeps answering what the HTTP threads hand it until they are drained too.
    const drained = (await Promise.all(fronts.map((f) => f.drained(timeoutMs)))).every(Boolean);
    if (!drained) logger.warn({ inflight: server.inflight + (grpc?.inflight ?? 0) }, 'shutdown timeout: closing with requests in flight');
    await Promise.all(fronts.map((front) => front.close(Math.max(1000, timeoutMs / 2))));
    await Promise.race([repository.close(), new Promise((r) => setTimeout(r, Math.max(100, timeoutMs / 4)))]);
    await routing.close(); // the routes' state is saved
    await cache?.close();
    await tracing.shutdown(); // exports what is queued
    return drained;
  };
  return {
    server,
    httpThreads,
    ...(threads ? { threads } : {}),
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
