// The gRPC front: Triton's inference.GRPCInferenceService and grpc.health.v1.Health over grpc-js,
// errors as statuses from src/protocol/errors.ts, the message size limit, gRPC metrics, and its part
// of a graceful shutdown (stop accepting, finish in-flight calls, close). Everything behind the
// handlers is the inference service's and the control plane's, as for the HTTP front.
//
// The listening socket is our own net.Server handing connections to grpc-js (its connection
// injector), so that stopping accepting closes only the listener, as HTTP's does: calls on open
// connections still reach the server and get a clear answer (UNAVAILABLE "the server is shutting
// down", or NOT_SERVING from health) instead of a connection refused.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import {
  Server,
  ServerCredentials,
  status,
  type ConnectionInjector,
  type handleUnaryCall,
  type MethodDefinition,
  type ServerDuplexStream,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import type { InferenceService, ServerControl } from '../inference/index.js';
import type { ServerMetrics } from '../metrics/index.js';
import { errorMessage, isExpectedError } from '../protocol/errors.js';
import type { BodyBudget } from '../server/body-budget.js';
import type { ServerLogger } from '../server/server.js';
import { waitFor } from '../server/transport.js';
import { endStream, outcome, shuttingDown, toStatus } from './call.js';
import { ANSWERS_WHILE_DRAINING, controlHandlers, type ControlHandler } from './handlers.js';
import { unaryInfer } from './infer-call.js';
import { HEALTH_SERVICE, INFERENCE_SERVICE, type ControlMethodName, type ControlMethods, type RequestOf, type ResponseOf } from './service-definition.js';
import { InferStream } from './stream.js';

export interface GrpcFrontOptions {
  service: InferenceService;
  control: ServerControl;
  metrics: ServerMetrics;
  logger: ServerLogger;
  host: string;
  port: number;
  /** grpc.max_receive_message_length and grpc.max_send_message_length: larger messages get RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** Request messages held at once, shared with HTTP (--max-inflight-body-bytes); unbounded when absent. */
  budget?: BodyBudget | undefined;
}

/** How long every connection must stay silent before the sessions are closed at shutdown. */
const QUIET_MS = 25;

export class GrpcFront {
  readonly #options: GrpcFrontOptions;
  readonly #control: ServerControl;
  readonly #metrics: ServerMetrics;
  readonly #log: ServerLogger;
  readonly #server: Server;
  readonly #injector: ConnectionInjector;
  readonly #listener: NetServer;
  readonly #sockets = new Set<Socket>();
  readonly #streams = new Set<InferStream>();
  #inflight = 0;
  /** Unary calls whose HTTP/2 stream is still open (answered or not): close() waits for them. */
  #openCalls = 0;
  port = 0;

  constructor(options: GrpcFrontOptions) {
    this.#options = options;
    this.#control = options.control;
    this.#metrics = options.metrics;
    this.#log = options.logger;
    this.#server = new Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': options.maxMessageBytes,
    });
    this.#injector = this.#server.createConnectionInjector(ServerCredentials.createInsecure());
    this.#listener = createServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      this.#injector.injectConnection(socket);
    });
    this.#register();
  }

  listen(): Promise<number> {
    const { host, port } = this.#options;
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(new Error(`gRPC cannot listen on ${host}:${port}: ${err.message}`));
      this.#listener.once('error', failed);
      this.#listener.listen(port, host, () => {
        this.#listener.off('error', failed);
        const address = this.#listener.address();
        this.port = typeof address === 'object' && address !== null ? address.port : port;
        this.#log.info({ host, port: this.port }, 'gRPC listening');
        resolve(this.port);
      });
    });
  }

  /** New connections are refused; open ones go on (readiness is the control plane's). */
  stopAccepting(): void {
    if (this.#listener.listening) this.#listener.close();
  }

  /** Unary calls and stream messages being answered. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Resolves true once nothing is in flight, false if `timeoutMs` passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    return waitFor(() => this.#inflight, timeoutMs);
  }

  /**
   * Ends every open stream (UNAVAILABLE once its requests in flight are answered), lets the calls
   * still open finish, then closes the connections; whatever is left after `timeoutMs` is cut.
   */
  async close(timeoutMs: number): Promise<void> {
    this.stopAccepting();
    for (const stream of this.#streams) stream.shutdown();
    // Let our calls and streams end before grpc-js closes the sessions: on Node 24, closing an
    // HTTP/2 session no longer waits for a stream whose client has not read its end yet (the client
    // sees "Connection dropped" instead of the call's response or status).
    const started = Date.now();
    await waitFor(() => this.#inflight + this.#openCalls + this.#streams.size, timeoutMs);
    // A call's stream counts as closed before its last frames have left the process, and Node 24
    // destroys an idle session's socket at once: wait until the connections have gone quiet.
    await this.#quiet(QUIET_MS, Math.min(timeoutMs, 1000));
    const closed = new Promise<boolean>((resolve) => this.#server.tryShutdown(() => resolve(true)));
    let timer: NodeJS.Timeout | undefined;
    const left = Math.max(0, timeoutMs - (Date.now() - started));
    const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), left)));
    const graceful = await Promise.race([closed, expired]);
    clearTimeout(timer);
    if (!graceful) {
      this.#log.warn({ inflight: this.#inflight, streams: this.#streams.size }, 'gRPC close timeout: cutting open calls');
      this.#server.forceShutdown();
    }
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Resolves once no connection has sent or received a byte for `quietMs`, or after `maxMs`. */
  async #quiet(quietMs: number, maxMs: number): Promise<void> {
    const traffic = () => [...this.#sockets].reduce((n, s) => n + s.bytesRead + s.bytesWritten, 0);
    const end = Date.now() + maxMs;
    let last = traffic();
    let since = Date.now();
    while (Date.now() < end && Date.now() - since < quietMs) {
      await new Promise((r) => setTimeout(r, 5));
      const now = traffic();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  #register(): void {
    const handlers = controlHandlers(this.#control);
    const methods: ControlMethods = { ...INFERENCE_SERVICE, ...HEALTH_SERVICE };
    for (const name of Object.keys(handlers) as ControlMethodName[]) this.#addControl(name, methods[name], handlers[name]);
    const { ModelInfer: infer, ModelStreamInfer: stream } = INFERENCE_SERVICE;
    const inferHandler = this.#unary('ModelInfer', false, (call: ServerUnaryCall<Buffer, Buffer>) => unaryInfer(this.#options.service, call, this.#options.budget));
    this.#server.register(infer.path, inferHandler, infer.responseSerialize, infer.requestDeserialize, 'unary');
    const streamHandler = (call: ServerDuplexStream<Buffer, Buffer>) => this.#stream(call);
    this.#server.register(stream.path, streamHandler, stream.responseSerialize, stream.requestDeserialize, 'bidi');
  }

  #addControl<K extends ControlMethodName>(name: K, method: ControlMethods[K], handler: ControlHandler<K>): void {
    // The method table and the handler table are keyed alike; TypeScript cannot correlate them through K.
    const def = method as unknown as MethodDefinition<RequestOf<K>, ResponseOf<K>>;
    const whileDraining = ANSWERS_WHILE_DRAINING.has(name);
    const unary = this.#unary(name, whileDraining, (call: ServerUnaryCall<RequestOf<K>, ResponseOf<K>>) => handler(call.request, call.metadata));
    this.#server.register(def.path, unary, def.responseSerialize, def.requestDeserialize, 'unary');
  }

  /** A unary call: draining check, handler, status from the error table, metrics, in-flight count. */
  #unary<Req, Res>(
    method: string,
    whileDraining: boolean,
    handle: (call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const started = performance.now();
      this.#inflight++;
      // grpc-js reports every end of a call's stream as 'cancelled', after the status too.
      this.#openCalls++;
      call.once('cancelled', () => this.#openCalls--);
      const ok = (value: Res): void => {
        this.#observe(method, call, status.OK, started);
        callback(null, value);
      };
      const fail = (err: unknown): void => {
        if (!isExpectedError(err)) this.#log.error({ method, err: errorMessage(err) }, 'gRPC request failed');
        const answer = toStatus(err);
        this.#observe(method, call, answer.code ?? status.UNKNOWN, started);
        callback(answer);
      };
      let result: Res | Promise<Res>;
      try {
        if (!whileDraining && this.#control.draining) throw shuttingDown();
        result = handle(call);
      } catch (err) {
        fail(err);
        return;
      }
      if (result instanceof Promise) result.then(ok, fail);
      else ok(result);
    };
  }

  #observe(method: string, call: ServerUnaryCall<unknown, unknown>, code: status, started: number): void {
    this.#inflight--;
    this.#metrics.observeGrpc(method, 'unary', outcome(call, code), (performance.now() - started) / 1000);
  }

  #stream(call: ServerDuplexStream<Buffer, Buffer>): void {
    if (this.#control.draining) {
      endStream(call, shuttingDown());
      return;
    }
    const stream = new InferStream(call, {
      service: this.#options.service,
      control: this.#control,
      metrics: this.#metrics,
      log: this.#log,
      budget: this.#options.budget,
      inflight: (delta) => (this.#inflight += delta),
      closed: (s) => this.#streams.delete(s),
    });
    this.#streams.add(stream);
  }
}
