// The traffic-management API, transport-free: a front turns GET/POST /v2/models/{route}/routing and
// POST /v2/models/{route}/feedback into these calls and writes back what they return (or throw, as
// ProtocolErrors with the table's status). Validation of the bodies lives here, once, for every front.
import { ProtocolError } from '../protocol/errors.js';
import { CanaryConflict, type CanaryAction } from './canary.js';
import type { FeedbackItemResult } from './feedback.js';
import type { RouteRuntime } from './route-runtime.js';
import type { RoutingRuntime } from './runtime.js';

/** What the control needs of the repository. */
export interface RoutedRepository {
  readonly routing: RoutingRuntime;
  exists(name: string): boolean;
}

const CANARY_ACTIONS: readonly CanaryAction[] = ['pause', 'resume', 'promote', 'rollback', 'restart'];

export interface FeedbackReply {
  accepted: number;
  duplicate: number;
  unknown: number;
  invalid: number;
  results: FeedbackItemResult[];
}

export class RoutingControl {
  readonly #repository: RoutedRepository;

  constructor(repository: RoutedRepository) {
    this.#repository = repository;
  }

  #route(name: string): RouteRuntime {
    const route = this.#repository.routing.route(name);
    if (route) return route;
    if (!this.#repository.exists(name)) throw new ProtocolError('NOT_FOUND', `unknown model '${name}'`);
    throw new ProtocolError('NOT_FOUND', `model '${name}' is not a loaded route (platform tensorgate_route)`);
  }

  /** GET .../routing: weights, counts, the rollout, the bandit, A/B results, shadows, fallbacks. */
  status(name: string): Record<string, unknown> {
    return this.#route(name).report();
  }

  /** POST .../routing: {"action": pause|resume|promote|rollback|restart} or {"action": "weights", "weights": {id: w}}. */
  async act(name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const route = this.#route(name);
    const action = body.action;
    for (const key of Object.keys(body)) {
      if (key !== 'action' && key !== 'weights') throw new ProtocolError('INVALID_ARGUMENT', `unknown field '${key}' (expected action, weights)`);
    }
    if (action === 'weights') {
      const weights = body.weights;
      if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) throw new ProtocolError('INVALID_ARGUMENT', "'weights' must be an object {target id: weight}");
      await route.setWeights(weights as Record<string, unknown>);
      return route.report();
    }
    if (body.weights !== undefined) throw new ProtocolError('INVALID_ARGUMENT', "'weights' goes with \"action\": \"weights\"");
    if (typeof action !== 'string' || !(CANARY_ACTIONS as readonly string[]).includes(action)) {
      throw new ProtocolError('INVALID_ARGUMENT', `'action' must be one of ${[...CANARY_ACTIONS, 'weights'].join(', ')}`);
    }
    if (!route.canary) throw new ProtocolError('FAILED_PRECONDITION', `route '${name}' has no canary rollout (routing.canary): '${action}' does not apply`);
    try {
      await route.canary.act(action as CanaryAction);
    } catch (err) {
      if (err instanceof CanaryConflict) throw new ProtocolError('FAILED_PRECONDITION', `route '${name}': ${err.message}`);
      throw err;
    }
    return route.report();
  }

  /**
   * POST .../feedback: one item {"id", "reward"?, "outcomes"?} (an invalid one is a 400), or a batch
   * {"feedback": [items]} answered item by item.
   */
  async feedback(name: string, body: Record<string, unknown>): Promise<FeedbackReply> {
    const route = this.#route(name);
    const hub = route.feedback;
    if (!hub) throw new ProtocolError('FAILED_PRECONDITION', `route '${name}' takes no feedback: give it a bandit, an ab section or a feedback section`);
    const batch = body.feedback;
    let items: unknown[];
    if (batch !== undefined) {
      if (!Array.isArray(batch)) throw new ProtocolError('INVALID_ARGUMENT', "'feedback' must be an array of items");
      if (Object.keys(body).length !== 1) throw new ProtocolError('INVALID_ARGUMENT', "a batch is {\"feedback\": [items]} and nothing else");
      items = batch;
    } else {
      items = [body];
    }
    const results = await hub.apply(items);
    const reply: FeedbackReply = { accepted: 0, duplicate: 0, unknown: 0, invalid: 0, results };
    for (const r of results) {
      const parts = [r.reward, ...Object.values(r.outcomes ?? {})].filter((x) => x !== undefined);
      if (parts.length === 0) reply.invalid++;
      for (const x of parts) reply[x]++;
    }
    // A single item that is wholly invalid is a bad request; a batch answers item by item.
    const only = results[0]!;
    if (batch === undefined && only.error !== undefined && reply.invalid > 0 && reply.accepted + reply.duplicate + reply.unknown === 0) {
      throw new ProtocolError('INVALID_ARGUMENT', only.error);
    }
    return reply;
  }
}
