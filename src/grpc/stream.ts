// ModelStreamInfer: a bidirectional stream of ModelInferRequests, each answered by a
// ModelStreamInferResponse as soon as it completes (not in request order: clients match answers by
// id). Every message goes through the inference service like a unary call. A failed request is
// answered with error_message (and its id, as Triton does, so the client knows which one failed)
// and the stream stays open. The client's cancel aborts every request still in flight; its
// half-close ends the stream (status OK) after the last answer. Answers the client does not read
// pause the reading of further requests (HTTP/2 flow control then holds the client back).
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { InferenceService, ServerControl } from '../inference/index.js';
import type { ServerMetrics } from '../metrics/index.js';
import { errorMessage, grpcStatusFor, isExpectedError } from '../protocol/errors.js';
import type { BodyBudget } from '../server/body-budget.js';
import type { ClientAbort } from '../server/client-abort.js';
import type { ServerLogger } from '../server/server.js';
import { codeName, endStream, shuttingDown } from './call.js';
import { callAbort, inferContext, inferHeld } from './infer-call.js';
import { encodeModelInferResponse, encodeStreamResponse, peekModel } from './infer-codec.js';
import { GRPC_STREAM_WIRE, replyMessage } from './infer-wire.js';

const METHOD = 'ModelStreamInfer';

export interface StreamHooks {
  service: InferenceService;
  control: ServerControl;
  metrics: ServerMetrics;
  log: ServerLogger;
  /** The body budget shared with HTTP (--max-inflight-body-bytes). */
  budget?: BodyBudget | undefined;
  /** A message starts (+1) or finishes (-1): the front's in-flight count, for draining. */
  inflight(delta: 1 | -1): void;
  /** The stream is over, however it ended. */
  closed(stream: InferStream): void;
}

export class InferStream {
  readonly #call: ServerDuplexStream<Buffer, Buffer>;
  readonly #hooks: StreamHooks;
  readonly #abort: ClientAbort;
  /** Requests read and not yet answered. */
  #pending = 0;
  #halfClosed = false;
  /** The server is shutting down: no more reading, end after the last answer. */
  #closing = false;
  /** The status was sent or the call is gone: nothing more is written. */
  #over = false;
  /** Reading waits for the client to take the answers already written. */
  #paused = false;

  constructor(call: ServerDuplexStream<Buffer, Buffer>, hooks: StreamHooks) {
    this.#call = call;
    this.#hooks = hooks;
    this.#abort = callAbort(call, 'stream');
    call.on('data', (message: Buffer) => this.#request(message));
    call.on('end', () => {
      this.#halfClosed = true;
      this.#maybeEnd();
    });
    // grpc-js reports every end of a call as 'cancelled' (after the status, too).
    call.once('cancelled', () => this.#gone());
  }

  /** Shutdown: stop reading; the stream ends UNAVAILABLE once its requests in flight are answered. */
  shutdown(): void {
    if (this.#over) return;
    this.#closing = true;
    this.#call.pause();
    this.#maybeEnd();
  }

  #request(message: Buffer): void {
    const started = performance.now();
    this.#pending++;
    this.#hooks.inflight(1);
    let id = '';
    try {
      const peeked = peekModel(message);
      id = peeked.id;
      if (this.#hooks.control.draining) throw shuttingDown();
      const ctx = inferContext(GRPC_STREAM_WIRE, message, peeked, this.#call, this.#abort);
      inferHeld(this.#hooks.service, ctx, this.#hooks.budget).then(
        (reply) => this.#answer(replyMessage(reply), 'OK', started),
        (err: unknown) => this.#fail(err, id, started),
      );
    } catch (err) {
      this.#fail(err, id, started);
    }
  }

  #fail(err: unknown, id: string, started: number): void {
    const message = errorMessage(err);
    if (!isExpectedError(err)) this.#hooks.log.error({ method: METHOD, err: message }, 'gRPC request failed');
    const named = id === '' ? undefined : encodeModelInferResponse({ modelName: '', modelVersion: '', id, outputs: {}, order: [] });
    this.#answer(encodeStreamResponse(named, message), codeName(grpcStatusFor(err)), started);
  }

  #answer(message: Buffer, code: string, started: number): void {
    const call = this.#call;
    if (!this.#over && !call.write(message) && !this.#paused) {
      this.#paused = true;
      call.pause();
      call.once('drain', () => {
        this.#paused = false;
        if (!this.#closing) call.resume();
      });
    }
    this.#hooks.metrics.observeGrpc(METHOD, 'stream', this.#over ? 'CANCELLED' : code, (performance.now() - started) / 1000);
    this.#pending--;
    this.#hooks.inflight(-1);
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#over || this.#pending > 0) return;
    if (this.#closing) {
      this.#over = true;
      endStream(this.#call, shuttingDown());
    } else if (this.#halfClosed) {
      this.#over = true;
      this.#call.end();
    }
  }

  #gone(): void {
    this.#over = true;
    this.#hooks.closed(this);
  }
}
