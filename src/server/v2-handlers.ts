// The v2 REST endpoints: HTTP request -> service call -> JSON reply. Handlers return an
// OutgoingResponse or throw; server.ts turns throws into `{"error": ...}` with the table's status.
import type { InferenceService, SampledTrace, ServerControl } from '../inference/index.js';
import { RequestContext } from '../inference/index.js';
import { ProtocolError } from '../protocol/errors.js';
import { traceHeaders } from '../tracing/traceparent.js';
import type { RoutingControl } from '../routing/control.js';
import { checkJsonBounds } from '../protocol/json-scan.js';
import { DEFAULT_DECODE_LIMITS } from '../protocol/limits.js';
import type { ClientAbort } from './client-abort.js';
import { HTTP_WIRE } from './http-wire.js';
import type { RouteMatch } from './routes.js';
import type { IncomingRequest, OutgoingResponse } from './transport.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The response header that names the target a route chose. */
export const TARGET_HEADER = 'tensorgate-target';

export function json(status: number, value: unknown): OutgoingResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(value) };
}

export interface HandlerContext {
  service: InferenceService;
  control: ServerControl;
  routing: RoutingControl;
  /** The front's error response (status from the error table, logged when unexpected). */
  errorResponse(err: unknown, match: RouteMatch): OutgoingResponse;
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  checkJsonBounds(body, 0, body.length, DEFAULT_DECODE_LIMITS);
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', `malformed JSON: ${(err as Error).message}`);
  }
}

export function handleInfer(h: Pick<HandlerContext, 'service' | 'errorResponse'>, m: RouteMatch, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> {
  const ctx = new RequestContext('http', HTTP_WIRE, m.model!, m.version, req.body, req.headers['inference-header-content-length']);
  ctx.signal = signal;
  ctx.headers = req.headers;
  const traceparent = req.headers.traceparent;
  if (traceparent !== undefined) ctx.trace = { traceparent, tracestate: req.headers.tracestate };
  return h.service.infer(ctx).then(
    (reply) => {
      // Which target served a routed request (as Seldon's x-seldon-route). Set on the reply's own headers:
      // a cached reply of a routed request is keyed by route and target, so its value is always the same.
      const routing = ctx.routing;
      if (routing !== undefined) reply.headers[TARGET_HEADER] = routing.target;
      // A traced reply's trace context is this request's alone: on a copy of the (possibly cached) headers.
      if (ctx.traced === undefined) return { status: 200, headers: reply.headers, body: reply.body };
      return traceReply(ctx.traced, { status: 200, headers: { ...reply.headers }, body: reply.body });
    },
    (err: unknown) => {
      if (ctx.traced === undefined) throw err;
      return traceReply(ctx.traced, h.errorResponse(err, m));
    },
  );
}

/** A traced request's reply carries its trace context (W3C traceparent naming the server span, and tracestate). */
function traceReply(traced: SampledTrace, response: OutgoingResponse): OutgoingResponse {
  const headers = (response.headers ??= {});
  for (const [name, value] of Object.entries(traceHeaders(traced))) headers[name] = value;
  return response;
}

export function handleTraceSetting(h: HandlerContext, m: RouteMatch, req: IncomingRequest): OutgoingResponse | Promise<OutgoingResponse> {
  if (req.method !== 'POST') return json(200, h.control.traceSettings(m.model));
  return h.control.updateTraceSettings(m.model, parseBody(req.body)).then((settings) => json(200, settings));
}

export function handleMonitoring(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, h.control.monitoring(m.model!, m.version));
}

export function handleLive(h: HandlerContext): OutgoingResponse {
  return json(200, { live: h.control.live() });
}

export function handleReady(h: HandlerContext): OutgoingResponse {
  const ready = h.control.ready();
  return json(ready ? 200 : 503, { ready });
}

export function handleModelMetadata(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, h.control.modelMetadata(m.model!, m.version));
}

export function handleModelReady(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  const ready = h.control.modelReady(m.model!, m.version);
  return json(ready ? 200 : 503, { name: m.model, ...(m.version !== undefined ? { version: m.version } : {}), ready });
}

export function handleModelConfig(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, h.control.modelConfig(m.model!, m.version));
}

export function handleStats(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, h.control.statistics(m.model, m.version));
}

export function handleServerMetadata(h: HandlerContext): OutgoingResponse {
  return json(200, h.control.serverMetadata());
}

export function handleIndex(h: HandlerContext, req: IncomingRequest): OutgoingResponse {
  return json(200, h.control.repositoryIndex(parseBody(req.body).ready === true));
}

export async function handleLoad(h: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  const parameters = (parseBody(req.body).parameters ?? {}) as Record<string, unknown>;
  const config = parameters.config;
  if (config !== undefined && typeof config !== 'string') throw new ProtocolError('INVALID_ARGUMENT', "parameter 'config' must be a JSON string");
  await h.control.load(m.model!, config);
  return json(200, {});
}

export async function handleUnload(h: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  parseBody(req.body);
  await h.control.unload(m.model!);
  return json(200, {});
}

export function handleRouteStatus(h: HandlerContext, m: RouteMatch): OutgoingResponse {
  return json(200, h.routing.status(m.model!));
}

export async function handleRouteControl(h: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  return json(200, await h.routing.act(m.model!, parseBody(req.body)));
}

export async function handleRouteFeedback(h: HandlerContext, m: RouteMatch, req: IncomingRequest): Promise<OutgoingResponse> {
  return json(200, await h.routing.feedback(m.model!, parseBody(req.body)));
}
