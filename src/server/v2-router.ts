// The v2 routes of the main HTTP thread: every endpoint (inference, health, metadata, repository and
// traffic-management APIs, trace settings, monitoring, metrics, the status page), with the checks that
// come before them: method, shutdown, the admin token, and the request body's Content-Encoding.
import type { InferenceService, ServerControl } from '../inference/index.js';
import type { ServerMetrics } from '../metrics/index.js';
import { ProtocolError } from '../protocol/errors.js';
import type { RoutingControl } from '../routing/control.js';
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from '../status/page.js';
import type { StatusTracker } from '../status/snapshot.js';
import type { ClientAbort } from './client-abort.js';
import { decodeBody } from './compression.js';
import { errorResponse, type ServerLogger } from './error-response.js';
import type { RouteMatch, RouteName } from './routes.js';
import { bodyPad, type HttpRouter } from './server.js';
import type { IncomingRequest, OutgoingResponse } from './transport.js';
import * as v2 from './v2-handlers.js';

export interface V2RouterOptions {
  service: InferenceService;
  control: ServerControl;
  /** The traffic-management API (routes). */
  routing: RoutingControl;
  metrics: ServerMetrics;
  logger: ServerLogger;
  maxBodyBytes: number;
  /** The live status page at `/` and its JSON at `/status` (404 without). */
  status?: StatusTracker | undefined;
}

/** What still answers while the server drains: probes, metrics and the status page (which shows it draining). */
const DURING_SHUTDOWN: ReadonlySet<RouteName> = new Set<RouteName>(['health_live', 'health_ready', 'metrics', 'status', 'status_page']);

/** Routes that need the admin token (when one is set): the repository API and traffic management. */
const ADMIN_ROUTES: ReadonlySet<RouteName> = new Set<RouteName>(['repository_index', 'repository_load', 'repository_unload', 'route_status', 'route_control', 'route_feedback']);

/** Rejects a request whose method the route does not take (405 with Allow), else undefined. */
export function wrongMethod(match: RouteMatch, req: IncomingRequest): OutgoingResponse | undefined {
  if (req.method === match.method || (req.method === 'HEAD' && match.method === 'GET') || (match.method === 'GET, POST' && (req.method === 'GET' || req.method === 'POST'))) return undefined;
  return { ...v2.json(405, { error: `${req.method} is not allowed on ${match.route}; use ${match.method}` }), headers: { 'content-type': 'application/json', allow: match.method } };
}

/** The body as sent, or its decoding when it carries a Content-Encoding (then `next` runs on the decoded body). */
export function withDecodedBody(req: IncomingRequest, maxBodyBytes: number, next: () => Promise<OutgoingResponse> | OutgoingResponse): Promise<OutgoingResponse> | OutgoingResponse {
  const encoding = req.headers['content-encoding'];
  if (encoding === undefined || req.body.length === 0) return next();
  return decodeBody(req.body, encoding, maxBodyBytes, bodyPad(req.headers['inference-header-content-length'])).then((body) => {
    req.body = body;
    return next();
  });
}

export class V2Router implements HttpRouter {
  readonly #options: V2RouterOptions;
  readonly #control: ServerControl;
  readonly #ctx: v2.HandlerContext;

  constructor(options: V2RouterOptions) {
    this.#options = options;
    this.#control = options.control;
    this.#ctx = { service: options.service, control: options.control, routing: options.routing, errorResponse: (err, match) => errorResponse(err, match, options.logger) };
  }

  get draining(): boolean {
    return this.#control.draining;
  }

  route(match: RouteMatch | null, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    if (!match) throw new ProtocolError('NOT_FOUND', `no route for ${req.method} ${req.path}`);
    const refused = wrongMethod(match, req);
    if (refused) return refused;
    if (this.#control.draining && !DURING_SHUTDOWN.has(match.name)) {
      throw new ProtocolError('UNAVAILABLE', 'the server is shutting down');
    }
    if (ADMIN_ROUTES.has(match.name)) this.#control.authorize(req.headers.authorization, match.name.startsWith('route_') ? 'the traffic-management API' : 'the repository API');
    // Changing trace settings needs it too; reading them does not.
    if (match.name === 'trace_setting' && req.method === 'POST') this.#control.authorize(req.headers.authorization, 'the trace settings API');
    return withDecodedBody(req, this.#options.maxBodyBytes, () => this.#route(match, req, signal));
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
        return this.#options.metrics.scrape().then(({ contentType, body }) => ({ status: 200, headers: { 'content-type': contentType }, body }));
    }
  }
}
