// The HTTP front: a transport (uWS or node:http) and what every response goes through: the router
// (v2-router.ts on the main thread; an HTTP worker thread's own, src/server/threads), errors as
// {"error": ...} with the status of src/protocol/errors.ts, response compression, HTTP metrics, and
// its part of a graceful shutdown (stop accepting, finish in-flight requests, close).
import { performance } from 'node:perf_hooks';
import { alignmentPad, parseInferenceHeaderLength } from '../protocol/infer-request.js';
import type { ClientAbort } from './client-abort.js';
import { acceptedEncoding, COMPRESS_MIN_BYTES, encodeBody } from './compression.js';
import { errorResponse, type ServerLogger } from './error-response.js';
import { NodeTransport } from './node-transport.js';
import { matchRoute, type RouteMatch } from './routes.js';
import { BodyBudget } from './body-budget.js';
import {
  DEFAULT_TRANSPORT_LIMITS,
  toBuffer,
  waitFor,
  type IncomingRequest,
  type OutgoingResponse,
  type Transport,
  type TransportLimits,
  type TransportOptions,
} from './transport.js';
import { loadUws, UWS_HEADER_TIMEOUT_MS, UwsTransport } from './uws-transport.js';

export type { ServerLogger };

/** Answers matched requests (throws for errors: the front maps them through the error table). */
export interface HttpRouter {
  /** True once the server drains: every response closes its connection. */
  readonly draining: boolean;
  route(match: RouteMatch | null, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse;
}

/** What the front records of every request it answers. */
export interface HttpMetrics {
  observeHttp(route: string, method: string, status: number, seconds: number): void;
}

export interface ServerOptions {
  router: HttpRouter;
  metrics: HttpMetrics;
  logger: ServerLogger;
  host: string;
  port: number;
  /** 'auto': uWebSockets.js when it loads, else node:http (logged). */
  httpEngine: 'auto' | 'uws' | 'node';
  maxBodyBytes: number;
  /**
   * Sees every request first: a promise is the whole answer (another thread answered it: no metrics,
   * compression or routing here); undefined lets this front answer. HTTP worker threads hand the
   * requests they do not serve themselves to the main thread this way.
   */
  intercept?: ((req: IncomingRequest, signal: ClientAbort) => Promise<OutgoingResponse> | undefined) | undefined;
  /** Timeouts and lingering (defaults: DEFAULT_TRANSPORT_LIMITS). */
  limits?: Partial<Omit<TransportLimits, 'maxBodyBytes'>> | undefined;
  /** Request bodies held at once across connections (shared with gRPC and, per process, every HTTP thread's own); unbounded when absent. */
  budget?: BodyBudget | undefined;
}

/** Spare bytes before the body so that its binary part is aligned (0 when the header is absent or bad: decoding answers that). */
export function bodyPad(header: string | undefined): number {
  if (header === undefined) return 0;
  try {
    const n = parseInferenceHeaderLength(header);
    return n === undefined || n === 0 ? 0 : alignmentPad(n);
  } catch {
    return 0;
  }
}

/** The transport settings of a front, without its handler: what every HTTP thread's transport shares. */
export function transportSettings(options: Pick<ServerOptions, 'host' | 'port' | 'maxBodyBytes' | 'limits' | 'budget'>): Omit<TransportOptions, 'handler'> {
  return {
    ...DEFAULT_TRANSPORT_LIMITS,
    ...options.limits,
    host: options.host,
    port: options.port,
    maxBodyBytes: options.maxBodyBytes,
    budget: options.budget ?? new BodyBudget(Infinity),
    bodyPad: (headers: Record<string, string>) => bodyPad(headers['inference-header-content-length']),
  };
}

export class HttpFront {
  readonly #options: ServerOptions;
  readonly #router: HttpRouter;
  readonly #metrics: HttpMetrics;
  readonly #log: ServerLogger;
  #transport!: Transport;
  #inflight = 0;
  port = 0;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#router = options.router;
    this.#metrics = options.metrics;
    this.#log = options.logger;
  }

  get transportKind(): 'uws' | 'node' {
    return this.#transport.kind;
  }

  /** The transport this front will use (uWS when it loads, per --http-engine), before listen(). */
  static transportKind(httpEngine: ServerOptions['httpEngine']): 'uws' | 'node' {
    if (httpEngine === 'node') return 'node';
    try {
      loadUws();
      return 'uws';
    } catch {
      return 'node';
    }
  }

  async listen(): Promise<number> {
    const intercept = this.#options.intercept;
    const transportOptions: TransportOptions = {
      ...transportSettings(this.#options),
      handler: intercept
        ? (req, signal) => {
            const elsewhere = intercept(req, signal);
            return elsewhere === undefined ? this.handle(req, signal) : this.#track(elsewhere);
          }
        : (req, signal) => this.handle(req, signal),
    };
    this.#transport = this.#createTransport(transportOptions);
    this.port = await this.#transport.listen();
    if (this.#transport.kind === 'uws' && transportOptions.headerTimeoutMs !== UWS_HEADER_TIMEOUT_MS) {
      this.#log.warn(
        { httpHeaderTimeoutMs: transportOptions.headerTimeoutMs, uwsHeaderTimeoutMs: UWS_HEADER_TIMEOUT_MS },
        'uWebSockets.js has its own fixed request-head timeout; --http-header-timeout applies to --http-engine node only',
      );
    }
    return this.port;
  }

  #createTransport(options: TransportOptions): Transport {
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

  /**
   * Answers one request: routing, errors, metrics, compression. Also how the main thread answers what
   * an HTTP worker thread hands it. Not async: a request that completes synchronously (health,
   * metadata) costs no promise, and an inference goes through one .then, not a chain of awaits.
   */
  handle(req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    const started = performance.now();
    const match = matchRoute(req.path, req.method);
    this.#inflight++;
    let result: Promise<OutgoingResponse> | OutgoingResponse;
    try {
      result = this.#router.route(match, req, signal);
    } catch (err) {
      result = errorResponse(err, match, this.#log);
    }
    const final =
      result instanceof Promise
        ? result.then(
            (response) => this.#finish(req, match, response, started),
            (err: unknown) => this.#finish(req, match, errorResponse(err, match, this.#log), started),
          )
        : this.#finish(req, match, result, started);
    // A request counts as in flight until its final response (compressed or not) goes to the transport.
    if (final instanceof Promise) {
      return final.finally(() => this.#done());
    }
    this.#done();
    return final;
  }

  /** A request another thread answers still counts as in flight here (shutdown waits for it). */
  #track(response: Promise<OutgoingResponse>): Promise<OutgoingResponse> {
    this.#inflight++;
    return response.finally(() => this.#done());
  }

  #done(): void {
    this.#inflight--;
  }

  #finish(req: IncomingRequest, match: RouteMatch | null, response: OutgoingResponse, started: number): Promise<OutgoingResponse> | OutgoingResponse {
    if (this.#router.draining) response.close = true; // no more requests on this connection
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
}
