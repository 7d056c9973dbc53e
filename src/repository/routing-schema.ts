// The `routing` section of a route's config (`"platform": "tensorgate_route"`): which models (or other
// routes) answer its requests and how the traffic is shared between them. Validated once, at load,
// with messages naming the field; the combinations that make no sense (a bandit with weights, a canary
// whose candidate also has a fixed weight...) are refused here, so the router can trust its spec.
import { z } from 'zod';

/** The platform that makes a model directory a route. */
export const ROUTE_PLATFORM = 'tensorgate_route';

/** How many routes a request may pass through (a route whose target is a route counts 2). */
export const MAX_ROUTE_DEPTH = 4;

const version = z.union([z.number().int().min(0), z.string().regex(/^\d+$/, 'a non-negative integer').transform(Number)], {
  error: 'expected a version number (a non-negative integer)',
});
const targetId = z.string().regex(/^[A-Za-z0-9_.:@-]+$/, 'letters, digits and _ . : @ - only');
const modelName = z.string().min(1);
const fraction = z.number().min(0).max(1);
const percent = z.number().min(0).max(100);
const positive = z.number().positive();

/** A model (or route) the route sends requests to. */
const targetSchema = z
  .object({
    /** How responses, metrics and the management API name it (default: model, or model:version). */
    name: targetId.optional(),
    model: modelName,
    /** A served version of the model (default: its latest). */
    version: version.optional(),
    /** Proportional weight (as Istio's and Seldon's): the share is weight / sum of weights. */
    weight: z.number().min(0).optional(),
  })
  .strict();

const plainTargetSchema = targetSchema.omit({ weight: true });

const stickySchema = z
  .object({
    /** An HTTP header (gRPC: a metadata key) whose value is the key, e.g. x-user-id. */
    header: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name').transform((h) => h.toLowerCase()).optional(),
    /** A request parameter (the v2 request's `parameters`). */
    parameter: z.string().min(1).optional(),
    /** An input tensor whose bytes are the key (e.g. a user id input). */
    input: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => [s.header, s.parameter, s.input].filter((v) => v !== undefined).length === 1, { message: 'exactly one of header, parameter or input' });

const canarySchema = z
  .object({
    /** The target id of the new version; its weight follows the steps. */
    candidate: targetId,
    /** The candidate's share of traffic at each step, in percent, increasing. */
    steps: z.array(z.number().gt(0).max(100)).min(1).default([5, 10, 25, 50, 100]),
    /** Time between checks (seconds; fractions allowed). */
    interval_s: positive.default(60),
    /** Consecutive failed checks that roll the candidate back. */
    threshold: z.number().int().min(1).default(2),
    gates: z
      .object({
        /** Fewer candidate requests than this in an interval: the check is inconclusive (no step, no failure). */
        min_requests: z.number().int().min(1).default(20),
        error_rate: z
          .object({
            /** Highest error rate of the candidate (0..1). */
            max: fraction.optional(),
            /** Highest excess over the primary's error rate in the same interval (0..1). */
            max_increase: fraction.optional(),
          })
          .strict()
          .optional(),
        p99_ms: z
          .object({
            /** Highest p99 latency of the candidate, in milliseconds. */
            max: positive.optional(),
            /** Highest ratio of the candidate's p99 to the primary's over the same interval. */
            max_ratio: positive.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ min_requests: 20 }),
  })
  .strict()
  .refine((c) => c.steps.every((s, i) => i === 0 || s > c.steps[i - 1]!), { message: 'steps must increase', path: ['steps'] });

const shadowSchema = z
  .object({
    targets: z.array(plainTargetSchema).min(1),
    /** Share of successful requests mirrored, in percent. */
    percent: percent.default(100),
    /** A shadow inference still running after this long is abandoned (and counted as a timeout). */
    timeout_ms: positive.default(1000),
    /** Shadow work waiting to run beyond this is dropped (and counted). */
    queue_size: z.number().int().min(1).default(256),
    /** Shadow inferences running at once. */
    concurrency: z.number().int().min(1).default(2),
    /** A sampled JSONL log of responses that differ (path relative to the route's directory). */
    mismatch_log: z
      .object({
        path: z.string().min(1),
        /** Share of mismatches written (0..1]. */
        sample: z.number().gt(0).max(1).default(1),
        /** Absolute difference at or below which float outputs count as matching for the log. */
        tolerance: z.number().min(0).default(0),
        /** Elements of each tensor written per entry. */
        max_elements: z.number().int().min(1).default(16),
      })
      .strict()
      .optional(),
  })
  .strict();

const banditSchema = z
  .object({
    policy: z.enum(['epsilon_greedy', 'ucb1', 'thompson']),
    /** epsilon_greedy: the exploration probability (the start value when decaying). */
    epsilon: fraction.optional(),
    /** epsilon_greedy: ε_t = epsilon · decay / (decay + t) after t pulls (t counted in pulls). */
    epsilon_decay: positive.optional(),
    /** thompson: the reward model (0/1 rewards: bernoulli; continuous: gaussian). */
    reward: z.enum(['bernoulli', 'gaussian']).default('bernoulli'),
  })
  .strict()
  .refine((b) => b.policy === 'epsilon_greedy' || (b.epsilon === undefined && b.epsilon_decay === undefined), { message: 'epsilon and epsilon_decay are for policy epsilon_greedy' })
  .refine((b) => b.policy === 'thompson' || b.reward === 'bernoulli', { message: 'reward is for policy thompson (ucb1 and epsilon_greedy take any rewards in [0, 1])', path: ['reward'] });

const feedbackSchema = z
  .object({
    /** How long a request id stays open for feedback. */
    ttl_s: positive.default(3600),
    /** Request ids remembered at most (the oldest are forgotten first). */
    max_ids: z.number().int().min(1).default(100_000),
  })
  .strict();

const outcomeSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a metric-label-safe name'),
    /** rate: 0/1 outcomes (a conversion, a click); value: any number (revenue). */
    kind: z.enum(['rate', 'value']),
  })
  .strict();

const abSchema = z
  .object({
    /** The target the others are compared with (default: the primary). */
    control: targetId.optional(),
    outcomes: z.array(outcomeSchema).min(1).max(30),
    /** Significance level of the two-sided tests. */
    alpha: z.number().gt(0).lt(1).default(0.05),
    /** Power for the sample size still needed. */
    power: z.number().gt(0).lt(1).default(0.8),
  })
  .strict();

const fallbackSchema = z
  .object({
    /** How long the target the split chose may take before the next level answers. */
    timeout_ms: positive.optional(),
    /** Tried in order when the chosen target fails, times out or has its breaker open. */
    targets: z.array(plainTargetSchema.extend({ timeout_ms: positive.optional() }).strict()).default([]),
    /** The last level: a JSON file of outputs ({"outputs": [{name, datatype, shape, data}]}), relative to the route's directory. */
    static: z.string().min(1).optional(),
    breaker: z
      .object({
        /** Consecutive failures that open a target's breaker. */
        failures: z.number().int().min(1).default(5),
        /** How long an open breaker skips the target before one probe request is let through. */
        cooldown_s: positive.default(10),
      })
      .strict()
      .default({ failures: 5, cooldown_s: 10 }),
  })
  .strict()
  .refine((f) => f.targets.length > 0 || f.static !== undefined, { message: 'a fallback needs targets or a static answer' });

export const routingSchema = z
  .object({
    targets: z.array(targetSchema).min(1),
    /** The target the route's readiness, metadata and relative gates follow (default: the first). */
    primary: targetId.optional(),
    /** Seed of the route's random choices (default: random per start). Sticky hashing never depends on it. */
    seed: z.number().int().min(0).optional(),
    sticky: stickySchema.optional(),
    /** Whether a client may choose the target with a `tensorgate-target` header (debugging, QA). */
    allow_pin: z.boolean().default(false),
    canary: canarySchema.optional(),
    shadow: shadowSchema.optional(),
    bandit: banditSchema.optional(),
    feedback: feedbackSchema.optional(),
    ab: abSchema.optional(),
    fallback: fallbackSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
    const ids = r.targets.map(targetIdOf);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) issue(['targets', i], `two targets are named '${id}' (give one a name)`);
    });
    const known = (id: string | undefined, path: Array<string | number>) => {
      if (id !== undefined && !ids.includes(id)) issue(path, `'${id}' is not one of the targets (${ids.join(', ')})`);
    };
    known(r.primary, ['primary']);
    const weighted = r.targets.filter((t) => t.weight !== undefined).length;
    if (r.bandit) {
      if (weighted > 0) issue(['targets'], 'a bandit chooses the target: remove the weights');
      if (r.sticky) issue(['sticky'], 'a bandit chooses the target: sticky keys do not apply');
      if (r.canary) issue(['canary'], 'a route is a bandit or a canary, not both');
      if (r.targets.length < 2) issue(['targets'], 'a bandit needs at least two targets (arms)');
    } else if (r.canary) {
      const c = r.canary;
      known(c.candidate, ['canary', 'candidate']);
      const candidate = r.targets[ids.indexOf(c.candidate)];
      if (candidate?.weight !== undefined) issue(['targets', ids.indexOf(c.candidate), 'weight'], 'the canary sets the candidate\'s weight: remove it');
      if (r.targets.length < 2) issue(['targets'], 'a canary needs the candidate and at least one other target');
      if (r.primary !== undefined && r.primary === c.candidate) issue(['primary'], 'the primary cannot be the canary candidate');
      if (weighted > 0 && weighted !== r.targets.length - 1) issue(['targets'], 'give every target but the candidate a weight, or none');
    } else {
      if (weighted > 0 && weighted !== r.targets.length) issue(['targets'], 'give every target a weight, or none (equal shares)');
      if (weighted > 0 && r.targets.every((t) => t.weight === 0)) issue(['targets'], 'at least one weight must be above 0');
    }
    if (r.ab) known(r.ab.control, ['ab', 'control']);
    if (r.shadow) checkUnique(r.shadow.targets.map(targetIdOf), ['shadow', 'targets'], issue);
    if (r.fallback) checkUnique(r.fallback.targets.map(targetIdOf), ['fallback', 'targets'], issue);
  });

function checkUnique(ids: string[], path: Array<string | number>, issue: (path: Array<string | number>, message: string) => void): void {
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i) issue([...path, i], `two targets are named '${id}' (give one a name)`);
  });
}

export type RoutingConfig = z.output<typeof routingSchema>;
export type RouteTargetConfig = RoutingConfig['targets'][number];
export type CanaryConfig = NonNullable<RoutingConfig['canary']>;
export type ShadowConfig = NonNullable<RoutingConfig['shadow']>;
export type BanditConfig = NonNullable<RoutingConfig['bandit']>;
export type FeedbackConfig = NonNullable<RoutingConfig['feedback']>;
export type AbConfig = NonNullable<RoutingConfig['ab']>;
export type FallbackConfig = NonNullable<RoutingConfig['fallback']>;
export type StickyConfig = NonNullable<RoutingConfig['sticky']>;

/** A target's id: its name, else model, or model:version. */
export function targetIdOf(t: { name?: string | undefined; model: string; version?: number | undefined }): string {
  return t.name ?? (t.version === undefined ? t.model : `${t.model}:${t.version}`);
}
