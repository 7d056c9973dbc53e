// Traffic-management metrics, read from the routes' live state at scrape time (nothing is done per
// request beyond the counters the routes keep anyway). Labels: route, target (a target id), and where
// it applies output, arm, outcome, level, status.
import { ScrapeFamily, type Sample } from '../metrics/family.js';
import type { RouteRuntime } from './route-runtime.js';
import type { RoutingRuntime } from './runtime.js';
import { SHADOW_OUTCOMES } from './shadow-runner.js';
import type { CanaryStatus } from './canary.js';

const STATUSES: readonly CanaryStatus[] = ['progressing', 'paused', 'promoted', 'rolled_back'];

export function routingFamilies(prefix: string, runtime: RoutingRuntime): ScrapeFamily[] {
  const family = (name: string, help: string, type: 'counter' | 'gauge', produce: (r: RouteRuntime, out: Sample[]) => void) =>
    new ScrapeFamily(`${prefix}${name}`, help, type, (out) => {
      for (const r of runtime.routes()) produce(r, out);
    });
  const perTarget = (r: RouteRuntime, out: Sample[], value: (i: number) => number) => r.targets.forEach((t, i) => out.push({ labels: { route: r.name, target: t.id }, value: value(i) }));
  const transitions = (r: RouteRuntime, kind: string) => r.canary?.transitions.get(kind as never) ?? 0;
  return [
    family('route_requests_total', 'Requests a route sent to each of its targets (pinned, sticky, weighted or bandit choices)', 'counter', (r, out) => perTarget(r, out, (i) => r.requests[i]!)),
    family('route_errors_total', 'Routed requests that failed at the target the route chose (client errors and cancels excluded)', 'counter', (r, out) => perTarget(r, out, (i) => r.errors[i]!)),
    family('route_weight_percent', "Each target's share of a route's weighted traffic now, in percent (canary steps included)", 'gauge', (r, out) => {
      if (r.feedback?.bandit) return;
      const p = r.split.percents();
      perTarget(r, out, (i) => p[i]!);
    }),
    family('route_sticky_unkeyed_total', 'Requests to a sticky route that carried no key (routed by weight)', 'counter', (r, out) => {
      if (r.spec.sticky) out.push({ labels: { route: r.name }, value: r.unkeyed });
    }),
    family('route_canary_step', "The canary rollout's current step (0-based index into its steps)", 'gauge', (r, out) => {
      if (r.canary) out.push({ labels: { route: r.name }, value: r.canary.state.step });
    }),
    family('route_canary_status', "The canary rollout's status: 1 for the current one", 'gauge', (r, out) => {
      const c = r.canary;
      if (c) for (const s of STATUSES) out.push({ labels: { route: r.name, status: s }, value: c.loaded && c.state.status === s ? 1 : 0 });
    }),
    family('route_promotions_total', 'Canary candidates promoted to 100 % (by their checks or by hand)', 'counter', (r, out) => {
      if (r.canary) out.push({ labels: { route: r.name }, value: transitions(r, 'promoted') });
    }),
    family('route_rollbacks_total', 'Canary candidates rolled back to 0 % (by a failed check threshold or by hand)', 'counter', (r, out) => {
      if (r.canary) out.push({ labels: { route: r.name }, value: transitions(r, 'rolled_back') });
    }),
    family('route_canary_transitions_total', 'Every canary transition by kind (step, promoted, rolled_back, paused, resumed, restarted, weight)', 'counter', (r, out) => {
      if (r.canary) for (const [kind, n] of r.canary.transitions) out.push({ labels: { route: r.name, kind }, value: n });
    }),
    family('route_shadow_requests_total', 'Shadow requests by shadow target and outcome (compared, error, timeout, dropped, unavailable)', 'counter', (r, out) => {
      r.shadow?.targets.forEach((t, i) => {
        for (const o of SHADOW_OUTCOMES) out.push({ labels: { route: r.name, target: t.id, outcome: o }, value: r.shadow!.stats[i]!.outcomes.get(o)! });
      });
    }),
    ...shadowOutputFamilies(prefix, runtime),
    family('route_shadow_latency_seconds_sum', 'Summed latency of compared shadow pairs, by role (primary, shadow): their difference over the compared count is the mean latency difference', 'counter', (r, out) => {
      r.shadow?.targets.forEach((t, i) => {
        const s = r.shadow!.stats[i]!;
        out.push({ labels: { route: r.name, target: t.id, role: 'primary' }, value: s.primaryMsSum / 1000 });
        out.push({ labels: { route: r.name, target: t.id, role: 'shadow' }, value: s.shadowMsSum / 1000 });
      });
    }),
    family('route_bandit_pulls_total', 'Requests a bandit sent to each arm (all replicas when shared through Redis)', 'counter', (r, out) => {
      const b = r.feedback?.bandit;
      b?.arms.forEach((arm, i) => out.push({ labels: { route: r.name, arm }, value: b.pulls(i) }));
    }),
    family('route_bandit_rewards_total', 'Rewards received per arm', 'counter', (r, out) => {
      const b = r.feedback?.bandit;
      b?.arms.forEach((arm, i) => out.push({ labels: { route: r.name, arm }, value: b.rewards(i) }));
    }),
    family('route_bandit_mean_reward', 'Mean reward per arm (absent until it has one)', 'gauge', (r, out) => {
      const b = r.feedback?.bandit;
      b?.arms.forEach((arm, i) => {
        const m = b.mean(i);
        if (!Number.isNaN(m)) out.push({ labels: { route: r.name, arm }, value: m });
      });
    }),
    family('route_feedback_total', 'Feedback by kind (reward or an outcome name) and result (accepted, duplicate, unknown, invalid)', 'counter', (r, out) => {
      const fb = r.feedback;
      if (fb) for (const [kind, m] of fb.results) for (const [result, n] of m) out.push({ labels: { route: r.name, kind, result }, value: n });
    }),
    family('route_feedback_ids_forgotten_total', 'Request ids forgotten before any feedback: expired (ttl) or evicted (max_ids)', 'counter', (r, out) => {
      const fb = r.feedback;
      if (!fb) return;
      out.push({ labels: { route: r.name, reason: 'expired' }, value: fb.ledger.expired });
      out.push({ labels: { route: r.name, reason: 'evicted' }, value: fb.ledger.evicted });
    }),
    ...outcomeFamilies(prefix, runtime),
    family('route_fallback_answers_total', 'Requests answered per fallback level (0: the chosen target; the static answer last)', 'counter', (r, out) => {
      const f = r.fallback;
      if (!f) return;
      out.push({ labels: { route: r.name, level: '0', target: 'chosen' }, value: f.answered[0]! });
      f.levels.forEach((l, i) => out.push({ labels: { route: r.name, level: String(i + 1), target: l.id }, value: f.answered[i + 1]! }));
      if (f.staticAnswer) out.push({ labels: { route: r.name, level: String(f.levels.length + 1), target: 'static' }, value: f.answered[f.levels.length + 1]! });
    }),
    family('route_fallback_failures_total', 'Requests no fallback level could answer', 'counter', (r, out) => {
      if (r.fallback) out.push({ labels: { route: r.name }, value: r.fallback.failedAll });
    }),
    family('route_breaker_open', 'Circuit breaker per target: 1 while open or half-open', 'gauge', (r, out) => {
      const f = r.fallback;
      if (!f) return;
      r.targets.forEach((t, i) => out.push({ labels: { route: r.name, target: t.id }, value: f.primaryBreakers[i]!.state === 'closed' ? 0 : 1 }));
      f.levels.forEach((l) => out.push({ labels: { route: r.name, target: l.id }, value: l.breaker.state === 'closed' ? 0 : 1 }));
    }),
    family('route_breaker_opens_total', 'Times a circuit breaker opened', 'counter', (r, out) => {
      const f = r.fallback;
      if (!f) return;
      r.targets.forEach((t, i) => out.push({ labels: { route: r.name, target: t.id }, value: f.primaryBreakers[i]!.opens }));
      f.levels.forEach((l) => out.push({ labels: { route: r.name, target: l.id }, value: l.breaker.opens }));
    }),
  ];
}

function shadowOutputFamilies(prefix: string, runtime: RoutingRuntime): ScrapeFamily[] {
  const each = (name: string, help: string, type: 'counter' | 'gauge', value: (c: import('./shadow-runner.js').OutputComparisons) => number | undefined) =>
    new ScrapeFamily(`${prefix}${name}`, help, type, (out) => {
      for (const r of runtime.routes()) {
        r.shadow?.targets.forEach((t, i) => {
          for (const [output, c] of r.shadow!.stats[i]!.outputs) {
            const v = value(c);
            if (v !== undefined) out.push({ labels: { route: r.name, target: t.id, output }, value: v });
          }
        });
      }
    });
  return [
    each('route_shadow_compared_total', 'Shadow outputs compared with the primary, per output tensor', 'counter', (c) => c.compared),
    each('route_shadow_exact_matches_total', 'Shadow outputs bit-identical to the primary (same datatype, shape and values)', 'counter', (c) => c.exact),
    each('route_shadow_argmax_rows_total', 'Rows (last-axis slices) compared for argmax agreement', 'counter', (c) => c.argmaxRows),
    each('route_shadow_argmax_agreements_total', 'Rows where the shadow and the primary have the same argmax', 'counter', (c) => c.argmaxAgree),
    each('route_shadow_max_abs_diff', 'Largest absolute difference seen between shadow and primary outputs', 'gauge', (c) => c.maxAbsDiff),
    each('route_shadow_max_rel_diff', 'Largest relative difference seen between shadow and primary outputs', 'gauge', (c) => c.maxRelDiff),
  ];
}

function outcomeFamilies(prefix: string, runtime: RoutingRuntime): ScrapeFamily[] {
  const arms = (name: string, help: string, value: (a: { count: number; mean: number | null }) => number | null) =>
    new ScrapeFamily(`${prefix}${name}`, help, 'gauge', (out) => {
      for (const r of runtime.routes()) {
        for (const o of r.feedback?.outcomes?.report() ?? []) {
          for (const a of o.arms) {
            const v = value(a);
            if (v !== null) out.push({ labels: { route: r.name, target: a.target, outcome: o.name }, value: v });
          }
        }
      }
    });
  const comparisons = (name: string, help: string, value: (c: import('./outcomes.js').OutcomeComparison) => number | null) =>
    new ScrapeFamily(`${prefix}${name}`, help, 'gauge', (out) => {
      for (const r of runtime.routes()) {
        for (const o of r.feedback?.outcomes?.report() ?? []) {
          for (const c of o.comparisons) {
            const v = value(c);
            if (v !== null) out.push({ labels: { route: r.name, target: c.target, control: c.control, outcome: o.name }, value: v });
          }
        }
      }
    });
  return [
    arms('route_outcome_count', 'Business outcomes reported per target (A/B)', (a) => a.count),
    arms('route_outcome_mean', 'Rate (rate outcomes) or mean (value outcomes) per target', (a) => a.mean),
    comparisons('route_outcome_p_value', "Two-sided p-value of the target's difference from the control (two-proportion z or Welch's t)", (c) => c.p_value),
    comparisons('route_outcome_significant', '1 when the difference from the control is significant at alpha', (c) => (c.significant ? 1 : 0)),
    comparisons('route_outcome_samples_needed', 'Per-arm sample size needed to detect the current difference at alpha with the configured power', (c) => c.samples_needed),
  ];
}
