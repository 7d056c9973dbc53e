// Everything one inference request carries through the stages, whatever front it came in by: who
// asked for what, its deadline and priority, the client's cancellation, the W3C trace context, the
// target it resolved to, where its time went, and what each stage produced. One object per request,
// with every field present from the start (a fixed shape keeps the stages' property access fast).
import { performance } from 'node:perf_hooks';
import type { AbortSignalLike, InferOptions, InferOutputs, InferTimings } from '../engine/index.js';
import type { DecodedInferRequest } from '../protocol/infer-request.js';
import type { EncodedReply, ReplyKey } from '../cache/index.js';
import type { ServedVersion } from '../repository/index.js';
import type { ModelLoad } from './admission.js';
import type { CallWaiter } from '../repository/backend.js';
import type { InferenceWire } from './wire.js';

export type FrontName = 'http' | 'grpc' | 'inproc';

/** What the context reads of gRPC metadata (grpc-js's Metadata is one; keys lower-case). */
export interface MetadataLike {
  get(key: string): ReadonlyArray<string | Buffer>;
}

/** W3C Trace Context, as received (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  traceparent: string;
  tracestate: string | undefined;
}

/** A span a stage adds to a traced request (shadow traffic, a pipeline step): times from nowNs(). */
export interface TraceStep {
  name: string;
  startNs: number;
  endNs: number;
  attributes: Record<string, string | number | boolean> | undefined;
}

/** A traced request: set by the tracing stage when the request is sampled (undefined otherwise). */
export interface SampledTrace {
  readonly traceId: string;
  /** The request's own (server) span: what the reply's traceparent names. */
  readonly spanId: string;
  /** The caller's span, when a traceparent came with the request. */
  readonly parentSpanId: string | undefined;
  readonly tracestate: string | undefined;
  steps: TraceStep[] | undefined;
}

export type RoutingReason = 'weight' | 'sticky' | 'pinned' | 'bandit' | 'fallback' | 'static';

/**
 * What the route stage decided (src/inference/stages/route.ts, src/routing). Decisions are made once
 * per route and target and shared by every request they apply to: nothing is allocated per request.
 */
export interface RoutingDecision {
  /** The route that decided. */
  readonly route: string;
  /** The id of the target that serves the request (as the route's config names it). */
  readonly target: string;
  readonly reason: RoutingReason;
  /** 0: the target the route chose; 1..n: the n-th fallback target; the static answer comes last. */
  readonly level: number;
  /** Response parameters that name the target (the encode stage adds them to the reply). */
  readonly parameters: Readonly<Record<string, string | number>>;
  /** The route's fallback chain, when it has one: the execute stage runs the request through it. */
  readonly fallback: FallbackExecutor | undefined;
  /** A static answer has no target: what the reply is named after. */
  readonly answer: { readonly name: string; readonly versionLabel: string; readonly outputOrder: string[] } | undefined;
  /** The route takes feedback by request id: a request without an id gets one (the reply carries it). */
  readonly assignsIds: boolean;
}

/** Runs a routed request's inference, falling back level by level (src/routing/fallback-chain.ts). */
export interface FallbackExecutor {
  run(ctx: RequestContext, options: InferOptions): Promise<void>;
}

export class RequestContext implements InferTimings {
  // --- the request as asked -------------------------------------------------------------------
  readonly front: FrontName;
  /** The model (or route) and version the client named; version undefined = the latest. */
  readonly model: string;
  readonly version: string | undefined;
  /** The front's request bytes, read by the wire's decoder. */
  readonly payload: Buffer;
  /** A wire-format detail that changes how `payload` reads (HTTP: Inference-Header-Content-Length). */
  readonly variant: string | undefined;
  readonly wire: InferenceWire;
  /** The client's cancellation (a disconnect, a gRPC cancel). */
  signal: AbortSignalLike | undefined = undefined;
  trace: TraceContext | undefined = undefined;
  /** Set when this request is traced (src/inference/stages/trace.ts); fronts return its traceparent. */
  traced: SampledTrace | undefined = undefined;
  /** Queue timeout in µs (0: none): the front's deadline, lowered by the request's own `timeout`. */
  timeoutUs = 0;
  /** Priority level (1 = highest; 0: the model's default), from the request. */
  priority = 0;
  /** The front's request headers, lower-case names (HTTP); read through header(). */
  headers: Readonly<Record<string, string>> | undefined = undefined;
  /** The call's metadata (gRPC); read through header(). */
  metadata: MetadataLike | undefined = undefined;
  /** In-process calls (ensemble steps, calls from JavaScript models): the models the call is nested in. */
  chain: readonly string[] | undefined = undefined;
  /** In-process calls from a JavaScript model: the worker task waiting on it (deadlock detection). */
  waiter: CallWaiter | undefined = undefined;

  // --- what the stages found and made ---------------------------------------------------------
  /** The served version that answers (a lease held until the request finishes). */
  target: ServedVersion | undefined = undefined;
  /** The innermost route's decision (the one that chose the target). */
  routing: RoutingDecision | undefined = undefined;
  /** Decisions of the outer routes when a route's target was another route (outermost first). */
  outerRouting: RoutingDecision[] | undefined = undefined;
  /** The id the server gave a request without one, on routes that take feedback by id. */
  assignedId: string | undefined = undefined;
  decoded: DecodedInferRequest | undefined = undefined;
  outputs: InferOutputs | undefined = undefined;
  reply: EncodedReply | undefined = undefined;
  /** The reply tier's key for this request, when the target caches replies. */
  replyKey: ReplyKey | undefined = undefined;
  /** The model copy's load this request counts in while in flight (set by admission). */
  admitted: ModelLoad | undefined = undefined;
  admittedRows = 0;
  /** Where the outputs came from: 'compute', or a cache level ('l1', 'l2', 'coalesced', 'reply'). */
  source: 'compute' | 'l1' | 'l2' | 'coalesced' | 'reply' | undefined = undefined;

  // --- where the time went (ns; queue and compute from the engine's own clock) ---------------
  // The *AtNs fields are when a phase began (0: it did not run): with the durations they place each
  // phase's span in a trace, built after the request, with no clock read of its own.
  readonly startNs: number;
  decodeAtNs = 0;
  decodeNs = 0;
  /** The tensor cache's lookup (its share of the time, not the computation it may have waited for). */
  cacheAtNs = 0;
  cacheNs = 0;
  /** Queue then compute follow the decode (or the cache lookup) directly. */
  queueNs = 0;
  computeNs = 0;
  /** Rows of the batch the request ran in (0: it did not run). */
  batchSize = 0;
  encodeAtNs = 0;
  encodeNs = 0;

  /** How many stages have started (their finish() runs when the request ends). */
  stagesRun = 0;

  /** Anything a stage wants to tell a later one (or a hook) about this request. */
  annotations: Record<string, unknown> | undefined = undefined;

  constructor(front: FrontName, wire: InferenceWire, model: string, version: string | undefined, payload: Buffer, variant?: string) {
    this.front = front;
    this.wire = wire;
    this.model = model;
    this.version = version;
    this.payload = payload;
    this.variant = variant;
    this.startNs = nowNs();
  }

  /** Records a span of a traced request (no-op when it is not traced). */
  traceStep(name: string, startNs: number, endNs: number, attributes?: Record<string, string | number | boolean>): void {
    const traced = this.traced;
    if (traced === undefined) return;
    (traced.steps ??= []).push({ name, startNs, endNs, attributes });
  }

  /** A request header (HTTP) or text metadata value (gRPC) by lower-case name: routes read sticky keys and pins. */
  header(name: string): string | undefined {
    const headers = this.headers;
    if (headers !== undefined) return headers[name];
    const value = this.metadata?.get(name)[0];
    return typeof value === 'string' ? value : undefined;
  }

  /** Adds an annotation (allocated on first use). */
  annotate(key: string, value: unknown): void {
    (this.annotations ??= {})[key] = value;
  }
}

/** A monotonic clock in ns, as a double (exact for 104 days of uptime). */
export function nowNs(): number {
  return performance.now() * 1e6;
}
