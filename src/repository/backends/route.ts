// Routes are models: a model directory whose config says `"platform": "tensorgate_route"` (and holds a
// `routing` section, routing-schema.ts) is loaded, reloaded and listed like any model, served at
// /v2/models/{route}/infer, and ready when its primary target is. It needs no version directory: an
// empty one, or none, serves version 1. Loading checks what a config alone cannot: every target is
// in the repository, shadow and fallback targets are models, and routes that target routes form no
// cycle and nest at most MAX_ROUTE_DEPTH deep (the error names the cycle). Its live state is the
// routing runtime's (src/routing); the route stage (src/inference/stages/route.ts) does the routing.
import type { ModelStats } from '../../engine/index.js';
import type { RouteRuntime } from '../../routing/route-runtime.js';
import type { RoutingRuntime } from '../../routing/runtime.js';
import type { Backend, BackendLoad, RepositoryPeers, Servable, ServableMetadata } from '../backend.js';
import { readModelConfig } from '../config-file.js';
import { RepositoryError } from '../errors.js';
import { modelDir } from '../paths.js';
import { MAX_ROUTE_DEPTH, ROUTE_PLATFORM, type RoutingConfig } from '../routing-schema.js';

const EMPTY_METADATA: ServableMetadata = { inputs: [], outputs: [], maxBatchSize: 0, dynamicBatching: false };

export class RouteServable implements Servable {
  readonly runtime: RouteRuntime;
  readonly readyWith: { model: string; version: number | undefined };
  readonly dependencies: readonly string[];
  /** Routing happens in the inference stages: callers inside the server go through them. */
  readonly throughService = true;
  #accepting = true;
  readonly #routing: RoutingRuntime;
  readonly #peers: RepositoryPeers;

  constructor(runtime: RouteRuntime, routing: RoutingRuntime, peers: RepositoryPeers) {
    this.runtime = runtime;
    this.#routing = routing;
    this.#peers = peers;
    const spec = runtime.spec;
    const primary = spec.targets[runtime.primary]!;
    this.readyWith = { model: primary.model, version: primary.version };
    this.dependencies = [...new Set([...spec.targets, ...(spec.shadow?.targets ?? []), ...(spec.fallback?.targets ?? [])].map((t) => t.model))];
  }

  /** The primary target's inputs and outputs (a route takes what its targets take). */
  get metadata(): ServableMetadata {
    let served = this.#peers.served(this.readyWith.model, this.readyWith.version);
    for (let depth = 0; served?.model instanceof RouteServable && depth < MAX_ROUTE_DEPTH; depth++) {
      const next: RouteServable = served.model;
      served = this.#peers.served(next.readyWith.model, next.readyWith.version);
    }
    return served && !(served.model instanceof RouteServable) ? served.model.metadata : EMPTY_METADATA;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  infer(): Promise<never> {
    return Promise.reject(new RepositoryError('INVALID', `'${this.runtime.name}' is a route: it answers through the inference service, not as an engine model`));
  }

  stats(): ModelStats {
    return ZERO_STATS;
  }

  async unload(): Promise<void> {
    this.#accepting = false;
    await this.#routing.release(this.runtime);
  }
}

const ZERO = { count: 0, ns: 0 };
const ZERO_STATS: ModelStats = {
  pending: 0,
  inferenceCount: 0,
  executionCount: 0,
  lastInferenceMs: 0,
  success: ZERO,
  fail: ZERO,
  failures: { queueFull: 0, timeout: 0, cancelled: 0, unavailable: 0, invalid: 0, backend: 0 },
  queue: ZERO,
  computeInput: ZERO,
  computeInfer: ZERO,
  computeOutput: ZERO,
  batches: [],
  histograms: { request: [], queue: [], compute: [] },
};

/**
 * Checks a route's targets against the repository on disk: they exist, shadow and fallback targets
 * are models, and the route graph from `name` has no cycle and is at most MAX_ROUTE_DEPTH deep.
 */
export function checkRouteTargets(root: string, name: string, routing: RoutingConfig, where: string): void {
  const exists = (model: string, field: string) => {
    let dir: string | null;
    try {
      dir = modelDir(root, model);
    } catch (err) {
      throw new RepositoryError('INVALID', `${where}: ${field}: ${(err as Error).message}`);
    }
    if (dir === null) throw new RepositoryError('INVALID', `${where}: ${field}: no model '${model}' in the repository`);
    return dir;
  };
  const routingOf = (model: string, dir: string, field: string): RoutingConfig | undefined => {
    try {
      const config = readModelConfig(root, dir, model).config;
      return config.platform === ROUTE_PLATFORM ? config.routing : undefined;
    } catch (err) {
      throw new RepositoryError('INVALID', `${where}: ${field}: cannot read the config of '${model}': ${(err as Error).message}`);
    }
  };
  for (const [list, key] of [
    [routing.shadow?.targets ?? [], 'shadow.targets'],
    [routing.fallback?.targets ?? [], 'fallback.targets'],
  ] as const) {
    list.forEach((t, i) => {
      const field = `routing.${key}[${i}].model`;
      if (routingOf(t.model, exists(t.model, field), field)) throw new RepositoryError('INVALID', `${where}: ${field}: '${t.model}' is a route; shadow and fallback targets must be models`);
    });
  }
  if (routing.fallback) {
    routing.targets.forEach((t, i) => {
      const field = `routing.targets[${i}].model`;
      if (routingOf(t.model, exists(t.model, field), field)) throw new RepositoryError('INVALID', `${where}: ${field}: '${t.model}' is a route; a route with a fallback chain targets models only`);
    });
  }
  const visit = (route: string, r: RoutingConfig, path: string[]): void => {
    r.targets.forEach((t, i) => {
      const field = route === name ? `routing.targets[${i}].model` : `routing (through ${path.join(' -> ')})`;
      if (path.includes(t.model)) throw new RepositoryError('INVALID', `${where}: ${field}: routing cycle ${[...path.slice(path.indexOf(t.model)), t.model].join(' -> ')}`);
      const inner = routingOf(t.model, exists(t.model, field), field);
      if (!inner) return;
      if (path.length + 1 > MAX_ROUTE_DEPTH) throw new RepositoryError('INVALID', `${where}: ${field}: routes nest deeper than ${MAX_ROUTE_DEPTH}: ${[...path, t.model].join(' -> ')}`);
      visit(t.model, inner, [...path, t.model]);
    });
  };
  visit(name, routing, [name]);
}

export const ROUTE_BACKEND: Backend = {
  name: 'tensorgate_route',
  platform: ROUTE_PLATFORM,
  metadataPlatform: ROUTE_PLATFORM,
  modelFile: () => undefined,
  versionless: true,
  effectiveConfig: (name, config) => ({ name, platform: ROUTE_PLATFORM, backend: 'tensorgate_route', routing: config.routing }),
  async load(load: BackendLoad): Promise<Servable> {
    const routing = load.config.routing!;
    checkRouteTargets(load.peers.root, load.name, routing, load.where);
    const runtime = load.routing;
    const dir = modelDir(load.peers.root, load.name) ?? load.dir;
    let route: RouteRuntime;
    try {
      route = await runtime.open(load.name, routing, dir, load.where);
    } catch (err) {
      throw new RepositoryError('INVALID', (err as Error).message);
    }
    return new RouteServable(route, runtime, load.peers);
  },
};
