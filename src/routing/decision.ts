// A route's decisions, made once per target and reason and shared by every request they apply to, so
// that routing a request allocates nothing: the route stage sets ctx.routing to one of these.
import type { FallbackExecutor, RequestContext, RoutingDecision, RoutingReason } from '../inference/context.js';

/** What records a finished request for a decision (its route's runtime). */
export interface DecisionOwner {
  record(ctx: RequestContext, d: Decision, error: unknown): void;
}

export class Decision implements RoutingDecision {
  readonly parameters: Readonly<Record<string, string | number>>;
  fallback: FallbackExecutor | undefined = undefined;
  answer: RoutingDecision['answer'] = undefined;
  /** Set by the route's runtime once it is built. */
  owner!: DecisionOwner;

  constructor(
    readonly route: string,
    readonly target: string,
    readonly reason: RoutingReason,
    /** Index of the target in its list (the route's targets, or its fallback targets); -1: static. */
    readonly index: number,
    readonly level: number,
    readonly assignsIds: boolean,
  ) {
    this.parameters = Object.freeze({
      tensorgate_route: route,
      tensorgate_target: target,
      tensorgate_reason: reason,
      ...(level > 0 ? { tensorgate_fallback_level: level } : {}),
    });
  }
}

/** The four ways a route's own target can be chosen, one decision each per target. */
export interface TargetDecisions {
  weight: Decision;
  sticky: Decision;
  pinned: Decision;
  bandit: Decision;
}

export function targetDecisions(route: string, id: string, index: number, assignsIds: boolean): TargetDecisions {
  return {
    weight: new Decision(route, id, 'weight', index, 0, assignsIds),
    sticky: new Decision(route, id, 'sticky', index, 0, assignsIds),
    pinned: new Decision(route, id, 'pinned', index, 0, assignsIds),
    bandit: new Decision(route, id, 'bandit', index, 0, assignsIds),
  };
}
