// The HTTP front: a transport (uWS or node:http), the v2 routes, errors as {"error": ...} with the
// status of src/protocol/errors.ts, request and response compression, the admin token on the
// repository API, HTTP metrics, and its part of a graceful shutdown (stop accepting, finish in-flight
// requests, close). Everything behind the routes is the inference service's.
import type { InferenceService, ServerControl } from '../inference/index.js';
import type { ServerMetrics } from '../metrics/index.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../status/page.js';
import type { StatusTracker } from '../status/snapshot.js';
import type { RoutingControl } from '../routing/control.js';
import { errorBody, errorMessage, httpStatusFor, isExpectedError, ProtocolError } from '../protocol/errors.js';
import { alignmentPad, parseInferenceHeaderLength } from '../protocol/infer-request.js';
import type { ClientAbort } from './client-abort.js';
import { acceptedEncoding, COMPRESS_MIN_BYTES, decodeBody, encodeBody } from './compression.js';
import { NodeTransport } from './node-transport.js';
import { matchRoute, type RouteMatch, type RouteName } from './routes.js';
import { toBuffer, waitFor, type IncomingRequest, type OutgoingResponse, type Transport } from './transport.js';
import { loadUws, UwsTransport } from './uws-transport.js';
import * as v2 from './v2-handlers.js';

export interface ServerLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface ServerOptions {
  service: InferenceService;
  control: ServerControl;
  /** The traffic-management API (routes). */
  routing: RoutingControl;
  metrics: ServerMetrics;
  logger: ServerLogger;
  host: string;
  port: number;
  /** 'auto': uWebSockets.js when it loads, else node:http (logged). */
  httpEngine: 'auto' | 'uws' | 'node';
  maxBodyBytes: number;
  /** The live status page at `/` and its JSON at `/status` (404 without). */
  status?: StatusTracker | undefined;
}

/** Spare bytes before the body so that its binary part is aligned (0 when the header is absent or bad: decoding answers that). */
function bodyPad(header: string | undefined): number {
  if (header === undefined) return 0;
  try {
    const n = parseInferenceHeaderLength(header);
    return n === undefined || n === 0 ? 0 : alignmentPad(n);
  } catch {
    return 0;
  }
}

const RETRY_AFTER_SECONDS = '1';

/** What still answers while the server drains: probes, metrics and the status page (which shows it draining). */
const DURING_SHUTDOWN: ReadonlySet<RouteMatch['name']> = new Set(['health_live', 'health_ready', 'metrics', 'status', 'status_page']);

/** Routes that need the admin token (when one is set): the repository API and traffic management. */
const ADMIN_ROUTES: ReadonlySet<RouteName> = new Set<RouteName>(['repository_index', 'repository_load', 'repository_unload', 'route_status', 'route_control', 'route_feedback']);

export class HttpFront {
  readonly #options: ServerOptions;
  readonly #control: ServerControl;
  readonly #metrics: ServerMetrics;
  readonly #log: ServerLogger;
  readonly #ctx: v2.HandlerContext;
  #transport!: Transport;
  #inflight = 0;
  port = 0;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#control = options.control;
    this.#metrics = options.metrics;
    this.#log = options.logger;
    this.#ctx = { service: options.service, control: options.control, routing: options.routing, errorResponse: (err, match) => this.#errorResponse(err, match) };
  }

  get transportKind(): 'uws' | 'node' {
    return this.#transport.kind;
  }

  async listen(): Promise<number> {
    const transportOptions = {
      host: this.#options.host,
      port: this.#options.port,
      maxBodyBytes: this.#options.maxBodyBytes,
      handler: (req: IncomingRequest, signal: ClientAbort) => this.#handle(req, signal),
      bodyPad: (headers: Record<string, string>) => bodyPad(headers['inference-header-content-length']),
    };
    this.#transport = this.#createTransport(transportOptions);
    this.port = await this.#transport.listen();
    this.#log.info({ host: this.#options.host, port: this.port, transport: this.#transport.kind }, 'listening');
    return this.port;
  }

  #createTransport(options: ConstructorParameters<typeof NodeTransport>[0]): Transport {
    if (this.#options.httpEngine === 'node') return new NodeTransport(options);
    try {
      return new UwsTransport(options, loadUws());
    } catch (err) {
      if (this.#options.httpEngine === 'uws') throw err;
      this.#log.warn({ err: (err as Error).message }, 'uWebSockets.js cannot load here; serving with node:http');
      return new NodeTransport(options);
    }
  }

  /** New connections are refused; open ones go on (readiness is the control plane's). */
  stopAccepting(): void {
    this.#transport.stopAccepting();
  }

  /** Resolves true once no request is in flight, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    return waitFor(() => this.#inflight, timeoutMs);
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Responses still being written (large bodies under backpressure) finish before connections close. */
  close(timeoutMs: number): Promise<void> {
    return this.#transport.close(timeoutMs);
  }

  // Not async: a request that completes synchronously (health, metadata) costs no promise, and an
  // inference goes through one .then, not a chain of awaits.
  #handle(req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    const started = performance.now();
    const match = matchRoute(req.path, req.method);
    this.#inflight++;
    let result: Promise<OutgoingResponse> | OutgoingResponse;
    try {
      result = this.#dispatch(match, req, signal);
    } catch (err) {
      result = this.#errorResponse(err, match);
    }
    const final =
      result instanceof Promise
        ? result.then(
            (response) => this.#finish(req, match, response, started),
            (err: unknown) => this.#finish(req, match, this.#errorResponse(err, match), started),
          )
        : this.#finish(req, match, result, started);
    // A request counts as in flight until its final response (compressed or not) goes to the transport.
    if (final instanceof Promise) {
      return final.finally(() => this.#done());
    }
    this.#done();
    return final;
  }

  #done(): void {
    this.#inflight--;
  }

  #finish(req: IncomingRequest, match: RouteMatch | null, response: OutgoingResponse, started: number): Promise<OutgoingResponse> | OutgoingResponse {
    if (this.#control.draining) response.close = true; // no more requests on this connection
    this.#metrics.observeHttp(match?.route ?? 'unmatched', req.method, response.status, (performance.now() - started) / 1000);
    const encoding = response.body === undefined ? undefined : acceptedEncoding(req.headers['accept-encoding']);
    if (!encoding) return response;
    const body = toBuffer(response.body);
    if (body.length < COMPRESS_MIN_BYTES) return response;
    return encodeBody(body, encoding).then((compressed) => ({
      ...response,
      headers: { ...response.headers, 'content-encoding': encoding, vary: 'accept-encoding' },
      body: compressed,
    }));
  }

  #dispatch(match: RouteMatch | null, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    if (!match) throw new ProtocolError('NOT_FOUND', `no route for ${req.method} ${req.path}`);
    if (req.method !== match.method && !(req.method === 'HEAD' && match.method === 'GET') && !(match.method === 'GET, POST' && (req.method === 'GET' || req.method === 'POST'))) {
      return { ...v2.json(405, { error: `${req.method} is not allowed on ${match.route}; use ${match.method}` }), headers: { 'content-type': 'application/json', allow: match.method } };
    }
    if (this.#control.draining && !DURING_SHUTDOWN.has(match.name)) {
      throw new ProtocolError('UNAVAILABLE', 'the server is shutting down');
    }
    if (ADMIN_ROUTES.has(match.name)) this.#control.authorize(req.headers.authorization, match.name.startsWith('route_') ? 'the traffic-management API' : 'the repository API');
    // Changing trace settings needs it too; reading them does not.
    if (match.name === 'trace_setting' && req.method === 'POST') this.#control.authorize(req.headers.authorization, 'the trace settings API');
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && req.body.length > 0) {
      return decodeBody(req.body, encoding, this.#options.maxBodyBytes).then((body) => {
        req.body = body;
        return this.#route(match, req, signal);
      });
    }
    return this.#route(match, req, signal);
  }

  #route(match: RouteMatch, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    const ctx = this.#ctx;
    switch (match.name) {
      case 'model_infer':
        return v2.handleInfer(ctx, match, req, signal);
      case 'health_live':
        return v2.handleLive(ctx);
      case 'health_ready':
        return v2.handleReady(ctx);
      case 'server_metadata':
        return v2.handleServerMetadata(ctx);
      case 'model_metadata':
        return v2.handleModelMetadata(ctx, match);
      case 'model_ready':
        return v2.handleModelReady(ctx, match);
      case 'model_config':
        return v2.handleModelConfig(ctx, match);
      case 'model_stats':
        return v2.handleStats(ctx, match);
      case 'repository_index':
        return v2.handleIndex(ctx, req);
      case 'repository_load':
        return v2.handleLoad(ctx, match, req);
      case 'repository_unload':
        return v2.handleUnload(ctx, match, req);
      case 'trace_setting':
        return v2.handleTraceSetting(ctx, match, req);
      case 'model_monitoring':
        return v2.handleMonitoring(ctx, match);
      case 'status_page':
        if (!this.#options.status) throw new ProtocolError('NOT_FOUND', `no route for ${req.method} ${req.path}`);
        return { status: 200, headers: STATUS_PAGE_HEADERS, body: STATUS_PAGE_HTML };
      case 'status':
        if (!this.#options.status) throw new ProtocolError('NOT_FOUND', `no route for ${req.method} ${req.path}`);
        return { ...v2.json(200, this.#options.status.snapshot()), headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } };
      case 'route_status':
        return v2.handleRouteStatus(ctx, match);
      case 'route_control':
        return v2.handleRouteControl(ctx, match, req);
      case 'route_feedback':
        return v2.handleRouteFeedback(ctx, match, req);
      case 'metrics':
        return this.#metrics.scrape().then(({ contentType, body }) => ({ status: 200, headers: { 'content-type': contentType }, body }));
    }
  }

  #errorResponse(err: unknown, match: RouteMatch | null): OutgoingResponse {
    const status = httpStatusFor(err);
    if (!isExpectedError(err)) this.#log.error({ route: match?.route, err: errorMessage(err) }, 'request failed');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 503) headers['retry-after'] = RETRY_AFTER_SECONDS;
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    return { status, headers, body: errorBody(errorMessage(err)) };
  }
}
