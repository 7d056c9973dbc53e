// GET /v2/models/{route}/routing: a route's whole state as plain JSON — targets with their weights,
// counts and breakers; the rollout with its last checks; bandit arms; the A/B report; shadow
// comparisons; fallback levels.
import type { RouteRuntime } from './route-runtime.js';
import type { ShadowRunner } from './shadow-runner.js';

export function routeReport(route: RouteRuntime): Record<string, unknown> {
  const percents = route.split.percents();
  const spec = route.spec;
  const canary = route.canary;
  const out: Record<string, unknown> = {
    route: route.name,
    mode: spec.bandit ? 'bandit' : canary ? 'canary' : 'split',
    state_store: route.store.kind,
    primary: route.targets[route.primary]!.id,
    targets: route.targets.map((t, i) => ({
      id: t.id,
      model: t.model,
      ...(t.version !== undefined ? { version: t.version } : {}),
      weight_percent: spec.bandit ? null : round(percents[i]!),
      requests: route.requests[i],
      errors: route.errors[i],
      ...(route.fallback ? { breaker: route.fallback.primaryBreakers[i]!.state } : {}),
    })),
    allow_pin: spec.allow_pin,
  };
  if (spec.sticky) out.sticky = { ...spec.sticky, unkeyed_requests: route.unkeyed };
  if (canary) {
    const s = canary.state;
    out.canary = {
      status: canary.loaded ? s.status : 'unknown',
      candidate: route.targets[canary.candidate]!.id,
      step: s.step,
      steps: spec.canary!.steps,
      weight_percent: canary.weight,
      ...(s.manual_weight !== undefined ? { manual_weight: s.manual_weight } : {}),
      failed_checks: s.failures,
      threshold: spec.canary!.threshold,
      interval_s: spec.canary!.interval_s,
      gates: spec.canary!.gates,
      since: new Date(s.since).toISOString(),
      revision: s.revision,
      checks: s.checks.map((c) => ({ ...c, at: new Date(c.at).toISOString() })),
    };
  }
  const fb = route.feedback;
  if (fb) {
    out.feedback = {
      ttl_s: fb.ledger.ttlMs / 1000,
      max_ids: fb.ledger.capacity,
      ...(fb.shared
        ? { ids_kept_in: 'redis', ids_lost: fb.idsLost }
        : { ids_kept_in: 'this replica', remembered: fb.ledger.size, expired: fb.ledger.expired, evicted: fb.ledger.evicted }),
      results: Object.fromEntries([...fb.results].map(([k, m]) => [k, Object.fromEntries(m)])),
    };
    if (fb.bandit) out.bandit = { policy: fb.bandit.config.policy, ...(spec.bandit!.policy === 'thompson' ? { reward: spec.bandit!.reward } : {}), arms: fb.bandit.report() };
    if (fb.outcomes) out.ab = { control: route.targets[fb.outcomes.control]!.id, alpha: spec.ab!.alpha, power: spec.ab!.power, outcomes: fb.outcomes.report() };
  }
  if (route.shadow) out.shadow = shadowReport(route.shadow);
  if (route.fallback) {
    const f = route.fallback;
    out.fallback = {
      levels: [
        { level: 0, target: 'chosen', answered: f.answered[0] },
        ...f.levels.map((l, i) => ({ level: i + 1, target: l.id, answered: f.answered[i + 1], breaker: l.breaker.state, timeout_ms: l.timeoutMs ?? null })),
        ...(f.staticAnswer ? [{ level: f.levels.length + 1, target: 'static', answered: f.answered[f.levels.length + 1] }] : []),
      ],
      failed: f.failedAll,
    };
  }
  return out;
}

function shadowReport(shadow: ShadowRunner): Record<string, unknown> {
  return {
    percent: shadow.config.percent,
    queued: shadow.queued,
    targets: shadow.targets.map((t, i) => {
      const s = shadow.stats[i]!;
      return {
        id: t.id,
        outcomes: Object.fromEntries(s.outcomes),
        mean_latency_delta_ms: s.pairs > 0 ? round((s.shadowMsSum - s.primaryMsSum) / s.pairs) : null,
        outputs: Object.fromEntries(
          [...s.outputs].map(([name, c]) => [
            name,
            {
              compared: c.compared,
              exact_match_rate: c.compared > 0 ? round(c.exact / c.compared) : null,
              argmax_agreement: c.argmaxRows > 0 ? round(c.argmaxAgree / c.argmaxRows) : null,
              max_abs_diff: c.maxAbsDiff,
              max_rel_diff: c.maxRelDiff,
              mean_max_abs_diff: c.compared > 0 ? c.sumMaxAbsDiff / c.compared : null,
            },
          ]),
        ),
      };
    }),
  };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
