// The routes as the status page shows them: each target's share of the route's traffic now (canary
// steps and weights set by hand included) and the canary's progress, read from the routing runtime.
import type { RoutingRuntime } from '../routing/runtime.js';
import type { RouteStatus } from './snapshot.js';

export function routeStatuses(runtime: RoutingRuntime): RouteStatus[] {
  const out: RouteStatus[] = [];
  for (const r of runtime.routes()) {
    const percents = r.split.percents();
    const status: RouteStatus = { name: r.name, targets: r.targets.map((t, i) => ({ target: t.id, weight: Number((percents[i] ?? 0).toFixed(1)) })) };
    const canary = r.canary;
    if (canary !== undefined) {
      const state = canary.state;
      status.canary = {
        target: r.targets[canary.candidate]!.id,
        state: state.status,
        weight: Number(canary.weight.toFixed(1)),
        step: state.step + 1,
        steps: r.spec.canary?.steps.length ?? 0,
      };
    }
    out.push(status);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
