// The spans of one traced request, built after it finished from what its context recorded: the
// request (SERVER span) and, as its children, decode, the cache lookup, queue wait and compute (from
// the engine's own per-request timings, with the batch size), encode, and the steps other stages
// added (shadow traffic, pipeline steps). Nothing was allocated per phase while the request ran.
//
// Attribute names: OpenTelemetry's where one exists (http.request.method, http.route,
// http.response.status_code, rpc.system, error.type); there are no conventions for model inference
// (only gen_ai.*), so the model's are tensorgate's own (tensorgate.model.name, ...).
import type { RequestContext, SampledTrace } from '../inference/context.js';
import { newSpanId } from './traceparent.js';

export type AttributeValue = string | number | boolean;

export interface SpanRecord {
  name: string;
  spanId: string;
  parentSpanId: string | undefined;
  kind: 'server' | 'internal';
  /** nowNs() clock. */
  startNs: number;
  endNs: number;
  attributes: Record<string, AttributeValue>;
  /** Set for server errors (5xx): the span's status is ERROR with this message. */
  error: string | undefined;
}

/** How the request ended, as the front reports it. */
export interface Outcome {
  /** HTTP status (the gRPC front reports the HTTP status of the same error kind). */
  status: number;
  /** The error kind (error.type), when it failed. */
  errorType: string | undefined;
  message: string | undefined;
}

function rootName(ctx: RequestContext): string {
  if (ctx.front === 'grpc') return 'inference.GRPCInferenceService/ModelInfer';
  if (ctx.front === 'http') return `POST ${httpRoute(ctx)}`;
  return 'infer';
}

function httpRoute(ctx: RequestContext): string {
  return ctx.version === undefined ? '/v2/models/{model_name}/infer' : '/v2/models/{model_name}/versions/{model_version}/infer';
}

/** The spans of a finished request that ended at `endNs`. */
export function requestSpans(ctx: RequestContext, traced: SampledTrace, endNs: number, outcome: Outcome): SpanRecord[] {
  const root = traced.spanId;
  const attributes: Record<string, AttributeValue> = {
    'tensorgate.model.name': ctx.model,
    'tensorgate.front': ctx.front,
  };
  const target = ctx.target;
  if (target !== undefined) attributes['tensorgate.model.version'] = target.versionLabel;
  if (ctx.source !== undefined) attributes['tensorgate.source'] = ctx.source;
  if (ctx.batchSize > 0) attributes['tensorgate.batch_size'] = ctx.batchSize;
  if (ctx.routing !== undefined) {
    attributes['tensorgate.route'] = ctx.routing.route;
    attributes['tensorgate.route.target'] = ctx.routing.target;
    attributes['tensorgate.route.reason'] = ctx.routing.reason;
  }
  if (ctx.front === 'http') {
    attributes['http.request.method'] = 'POST';
    attributes['http.route'] = httpRoute(ctx);
    attributes['http.response.status_code'] = outcome.status;
  } else if (ctx.front === 'grpc') {
    attributes['rpc.system'] = 'grpc';
    attributes['rpc.service'] = 'inference.GRPCInferenceService';
    attributes['rpc.method'] = 'ModelInfer';
  }
  if (outcome.errorType !== undefined) attributes['error.type'] = outcome.errorType;
  const spans: SpanRecord[] = [
    {
      name: rootName(ctx),
      spanId: root,
      parentSpanId: traced.parentSpanId,
      kind: 'server',
      startNs: ctx.startNs,
      endNs,
      attributes,
      // OpenTelemetry's HTTP conventions: a server span is an error for 5xx only (4xx is the client's).
      error: outcome.status >= 500 ? (outcome.message ?? 'error') : undefined,
    },
  ];
  const child = (name: string, startNs: number, durationNs: number, attrs: Record<string, AttributeValue> = {}) => {
    const start = Math.max(ctx.startNs, Math.min(startNs, endNs));
    spans.push({ name, spanId: newSpanId(), parentSpanId: root, kind: 'internal', startNs: start, endNs: Math.min(endNs, start + Math.max(0, durationNs)), attributes: attrs, error: undefined });
  };
  if (ctx.decodeAtNs > 0) child('decode', ctx.decodeAtNs, ctx.decodeNs);
  if (ctx.cacheAtNs > 0) child('cache lookup', ctx.cacheAtNs, ctx.cacheNs, { 'tensorgate.cache.result': ctx.source === 'compute' ? 'miss' : (ctx.source ?? 'miss') });
  if (ctx.queueNs > 0 || ctx.computeNs > 0) {
    const queueAt = ctx.cacheAtNs > 0 ? ctx.cacheAtNs + ctx.cacheNs : ctx.decodeAtNs + ctx.decodeNs;
    child('queue', queueAt, ctx.queueNs);
    if (ctx.computeNs > 0) child('compute', queueAt + ctx.queueNs, ctx.computeNs, { 'tensorgate.batch_size': ctx.batchSize });
  }
  if (ctx.encodeAtNs > 0) child('encode', ctx.encodeAtNs, ctx.encodeNs);
  for (const step of traced.steps ?? []) child(step.name, step.startNs, step.endNs - step.startNs, step.attributes);
  return spans;
}
