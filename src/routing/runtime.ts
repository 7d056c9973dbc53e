// The traffic-management runtime of a server: one RouteRuntime per route name, shared by every loaded
// copy of the route's config (a reload with the same routing section keeps its live state; a changed
// one starts a new runtime, which reads what the store kept), the state store, and the repository's
// leases once the inference service is built. The route backend opens runtimes when a route loads;
// the route stage, the management API and the metrics read them.
import type { RoutingConfig } from '../repository/routing-schema.js';
import type { RoutingLogger } from './canary-driver.js';
import { RouteRuntime } from './route-runtime.js';
import type { Leases } from './shadow-runner.js';
import { MemoryStateStore, type StateStore } from './state-store.js';

export interface RoutingRuntimeOptions {
  store?: StateStore;
  logger?: RoutingLogger;
  /** Epoch-ms clock (tests). */
  now?: () => number;
}

const SILENT: RoutingLogger = { info() {}, warn() {}, error() {} };

export class RoutingRuntime {
  readonly store: StateStore;
  readonly log: RoutingLogger;
  readonly now: () => number;
  readonly #routes = new Map<string, RouteRuntime>();
  /** Runtimes replaced by a changed config, still used by requests in flight on the old copy. */
  readonly #retiring = new Set<RouteRuntime>();
  #leases: Leases | undefined;

  constructor(options: RoutingRuntimeOptions = {}) {
    this.store = options.store ?? new MemoryStateStore();
    this.log = options.logger ?? SILENT;
    this.now = options.now ?? Date.now;
  }

  /** The repository the routes take leases from (the inference service binds it). */
  bind(leases: Leases): void {
    this.#leases = leases;
  }

  get leases(): Leases {
    if (!this.#leases) throw new Error('the routing runtime is not bound to a repository');
    return this.#leases;
  }

  /** The live runtime of a route, for a newly loaded copy of its config (awaits the stored state). */
  async open(name: string, spec: RoutingConfig, dir: string, where: string): Promise<RouteRuntime> {
    const current = this.#routes.get(name);
    if (current && JSON.stringify(current.spec) === JSON.stringify(spec)) {
      current.refs++;
      return current;
    }
    // Built first: a config that fails here (a bad static answer) leaves the current runtime running.
    const route = new RouteRuntime({ name, spec, dir, where, store: this.store, leases: () => this.leases, log: this.log, now: this.now });
    if (current) {
      // The old copy may still answer requests in flight; its state is saved before the new one reads it.
      this.#routes.delete(name);
      this.#retiring.add(current);
      await current.close();
    }
    route.refs++;
    this.#routes.set(name, route);
    await route.start();
    return route;
  }

  /** A loaded copy of the route unloaded; the last one closes the runtime. */
  async release(route: RouteRuntime): Promise<void> {
    if (--route.refs > 0) return;
    if (this.#retiring.delete(route)) return; // closed when it was replaced
    if (this.#routes.get(route.name) === route) this.#routes.delete(route.name);
    await route.close();
  }

  /** The live runtime of a route (undefined when no copy of it is loaded). */
  route(name: string): RouteRuntime | undefined {
    return this.#routes.get(name);
  }

  routes(): IterableIterator<RouteRuntime> {
    return this.#routes.values();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#routes.values()].map((r) => r.close()));
    this.#routes.clear();
    await this.store.close();
  }
}
