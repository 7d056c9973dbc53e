// Helpers for the traffic-management tests: repositories with routes over "x + offset" models (the
// answer names the model that served), request bodies, a route runtime in-process without a server,
// and the statistics the split tests check against.
import { RequestContext } from '../../src/inference/context.js';
import type { InferenceWire } from '../../src/inference/wire.js';
import { offsetModel, type OffsetModelOptions } from '../../src/onnx/models.js';
import { routingSchema, type RoutingConfig } from '../../src/repository/routing-schema.js';
import type { RoutingLogger } from '../../src/routing/canary-driver.js';
import { RouteRuntime } from '../../src/routing/route-runtime.js';
import { MemoryStateStore, type StateStore } from '../../src/routing/state-store.js';
import { putConfig, putModel, tempRepo } from './fixtures.js';

export const WIDTH = 4;

/** A route's config.json. */
export function routeConfig(routing: Record<string, unknown>): Record<string, unknown> {
  return { platform: 'tensorgate_route', routing };
}

export interface RoutingRepo {
  root: string;
  cleanup(): void;
}

/**
 * A repository with "x + offset" models (a number, or full options) and routes (their routing
 * sections); `configs` adds model configs.
 */
export function routingRepo(models: Record<string, number | OffsetModelOptions>, routes: Record<string, Record<string, unknown>> = {}, configs: Record<string, Record<string, unknown>> = {}): RoutingRepo {
  const repo = tempRepo();
  for (const [name, m] of Object.entries(models)) putModel(repo.root, name, 1, offsetModel(typeof m === 'number' ? { offset: m } : m));
  for (const [name, c] of Object.entries(configs)) putConfig(repo.root, name, c);
  for (const [name, routing] of Object.entries(routes)) putConfig(repo.root, name, routeConfig(routing));
  return { root: repo.root, cleanup: repo.cleanup };
}

/** A v2 JSON request for x [1, WIDTH] filled with `value` (or the given row). */
export function inferBody(value: number | number[] = 0, extra: Record<string, unknown> = {}): string {
  const data = Array.isArray(value) ? value : new Array(WIDTH).fill(value);
  return JSON.stringify({ ...extra, inputs: [{ name: 'x', shape: [1, WIDTH], datatype: 'FP32', data }] });
}

/** The offset that answered (y - x for x = `value`). */
export function offsetOf(json: { outputs: Array<{ data: number[] }> }, value = 0): number {
  return Math.round((json.outputs[0]!.data[0]! - value) * 1000) / 1000;
}

const NO_WIRE = {} as InferenceWire;

/** A request context for pick() in-process: headers only. */
export function pickContext(headers?: Record<string, string>): RequestContext {
  const ctx = new RequestContext('inproc', NO_WIRE, 'r', undefined, Buffer.alloc(0));
  ctx.headers = headers;
  return ctx;
}

export const SILENT: RoutingLogger = { info() {}, warn() {}, error() {} };

/** A route runtime without a server (no leases: shadow and fallback need a repository). */
export function runtimeFor(routing: Record<string, unknown>, options: { store?: StateStore; now?: () => number; name?: string } = {}): RouteRuntime {
  const spec: RoutingConfig = routingSchema.parse(routing);
  return new RouteRuntime({
    name: options.name ?? 'r',
    spec,
    dir: '/nonexistent',
    where: 'r/config.json',
    store: options.store ?? new MemoryStateStore(),
    leases: () => {
      throw new Error('no repository in this test');
    },
    log: SILENT,
    now: options.now ?? Date.now,
  });
}

/** Pearson's chi-square statistic of counts against expected probabilities. */
export function chiSquare(observed: readonly number[], probabilities: readonly number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((sum, o, i) => {
    const e = n * probabilities[i]!;
    return sum + ((o - e) * (o - e)) / e;
  }, 0);
}

/** Chi-square critical values at p = 0.001 by degrees of freedom (standard tables). */
export const CHI2_CRITICAL_P001: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266 };

/** A canary section as the schema completes it (candidate 'c' of targets a, c). */
export function canaryConfig(canary: Record<string, unknown>): NonNullable<RoutingConfig['canary']> {
  return routingSchema.parse({ targets: [{ model: 'a' }, { model: 'c' }], canary: { candidate: 'c', ...canary } }).canary!;
}
