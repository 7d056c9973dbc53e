// Everything one inference request carries through the stages, whatever front it came in by: who
// asked for what, its deadline and priority, the client's cancellation, the W3C trace context, the
// target it resolved to, where its time went, and what each stage produced. One object per request,
// with every field present from the start (a fixed shape keeps the stages' property access fast).
import type { AbortSignalLike, InferOutputs, InferTimings } from '../engine/index.js';
import type { DecodedInferRequest } from '../protocol/infer-request.js';
import type { EncodedReply, ReplyKey } from '../cache/index.js';
import type { ServedVersion } from '../repository/index.js';
import type { ModelLoad } from './admission.js';
import type { InferenceWire } from './wire.js';

export type FrontName = 'http' | 'grpc' | 'inproc';

/** W3C Trace Context, as received (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  traceparent: string;
  tracestate: string | undefined;
}

/** What the routing stage decided (filled by routes: see src/routing). */
export interface RoutingDecision {
  /** The route the client named. */
  route: string;
  /** The model (and version) that served the request. */
  target: string;
  /** Why: 'weight', 'sticky', 'pinned', 'bandit', 'fallback'... */
  reason: string;
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
  /** Queue timeout in µs (0: none): the front's deadline, lowered by the request's own `timeout`. */
  timeoutUs = 0;
  /** Priority level (1 = highest; 0: the model's default), from the request. */
  priority = 0;

  // --- what the stages found and made ---------------------------------------------------------
  /** The served version that answers (a lease held until the request finishes). */
  target: ServedVersion | undefined = undefined;
  routing: RoutingDecision | undefined = undefined;
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
  readonly startNs: number;
  decodeNs = 0;
  cacheNs = 0;
  queueNs = 0;
  computeNs = 0;
  /** Rows of the batch the request ran in (0: it did not run). */
  batchSize = 0;
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

  /** Adds an annotation (allocated on first use). */
  annotate(key: string, value: unknown): void {
    (this.annotations ??= {})[key] = value;
  }
}

/** A monotonic clock in ns, as a double (exact for 104 days of uptime). */
export function nowNs(): number {
  return performance.now() * 1e6;
}
