// An HTTP worker thread's router: it answers the inferences of the plain models its table lists (the
// same handler and checks as the main thread's), and says which requests it serves at all; the front
// hands every other one to the main thread.
import type { InferenceService } from '../../inference/index.js';
import type { ClientAbort } from '../client-abort.js';
import { errorResponse, type ServerLogger } from '../error-response.js';
import { matchRoute, type RouteMatch } from '../routes.js';
import type { HttpRouter } from '../server.js';
import type { IncomingRequest, OutgoingResponse } from '../transport.js';
import { handleInfer } from '../v2-handlers.js';
import { withDecodedBody } from '../v2-router.js';
import type { ServedTable } from './served-table.js';

export class WorkerRouter implements HttpRouter {
  /** Shutdown began: everything goes to the main thread, which answers 503 (and keeps probes up). */
  draining = false;
  readonly #table: ServedTable;
  readonly #maxBodyBytes: number;
  readonly #ctx: Parameters<typeof handleInfer>[0];

  constructor(service: InferenceService, table: ServedTable, maxBodyBytes: number, log: ServerLogger) {
    this.#table = table;
    this.#maxBodyBytes = maxBodyBytes;
    this.#ctx = { service, errorResponse: (err, match) => errorResponse(err, match, log) };
  }

  /** Whether this thread answers the request itself: an inference of a model its table lists. */
  serves(req: IncomingRequest): boolean {
    if (this.draining || req.method !== 'POST') return false;
    const match = matchRoute(req.path, req.method);
    return match !== null && match.name === 'model_infer' && this.#table.serves(match.model!, match.version);
  }

  route(match: RouteMatch | null, req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> | OutgoingResponse {
    return withDecodedBody(req, this.#maxBodyBytes, () => handleInfer(this.#ctx, match!, req, signal));
  }
}
