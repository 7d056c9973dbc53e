// Engine and model options: typed, validated once at the edge (zod), and turned into the plain
// structs the addon reads. Defaults live here and nowhere else.
import { isMainThread } from 'node:worker_threads';
import { z } from 'zod';
import type { NativeBatchingOptions, NativeInitOptions, NativeQueuePolicy, NativeSessionOptions } from './binding.js';
import { DATATYPE_TABLE, UNSUPPORTED_ONNX_TYPES } from './datatype.js';
import { TensorgateError } from './errors.js';

const count = z.number().int().min(0);

/** How long event loops and runners poll before sleeping, unless the engine options say otherwise. */
export const DEFAULT_SPIN_MICROSECONDS = 50;

export const engineOptionsSchema = z
  .object({
    /** Path of libonnxruntime to load (default: TENSORGATE_ORT_LIBRARY, else onnxruntime-node's). */
    ortLibrary: z.string().min(1).optional(),
    /** Threads of the process-wide intra-op pool, counting the calling thread (0: ORT's default). */
    intraOpThreads: count.optional(),
    /** Threads of the process-wide inter-op pool (0: ORT's default). */
    interOpThreads: count.optional(),
    /** Let pool threads spin between ops (lower latency, CPU burnt while idle). */
    allowSpinning: z.boolean().optional(),
    /** ORT's own log level: verbose, info, warning, error, fatal. */
    ortLogLevel: z.enum(['verbose', 'info', 'warning', 'error', 'fatal']).optional(),
    /**
     * How long this thread's event loop keeps polling for a completion beyond the model's typical
     * execution time, so that it is picked up without an idle thread's wake-up. Only for models whose
     * execution is at most 20 times this (longer ones make a wake-up negligible). 0 turns it off.
     */
    eventLoopSpinMicroseconds: count.max(10_000).default(DEFAULT_SPIN_MICROSECONDS),
    /** The default of the load option spinMicroseconds (a model's runner polling for work before it sleeps). */
    spinMicroseconds: count.max(10_000).default(DEFAULT_SPIN_MICROSECONDS),
  })
  .strict();

export type EngineOptions = z.input<typeof engineOptionsSchema> & { logger?: EngineLogger };

/** Where the engine reports what it skipped (providers that cannot load). pino fits. */
export interface EngineLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

const queuePolicySchema = z
  .object({
    maxQueueSize: count.default(0),
    defaultTimeoutMicroseconds: count.default(0),
    timeoutAction: z.enum(['REJECT', 'DELAY']).default('REJECT'),
    allowTimeoutOverride: z.boolean().default(true),
  })
  .strict();

export type QueuePolicy = z.input<typeof queuePolicySchema>;

const dynamicBatchingSchema = z
  .object({
    preferredBatchSize: z.array(z.number().int().min(1)).default([]),
    maxQueueDelayMicroseconds: count.default(0),
    priorityLevels: count.default(0),
    defaultPriorityLevel: count.default(0),
    defaultQueuePolicy: queuePolicySchema.optional(),
    priorityQueuePolicy: z.record(z.string().regex(/^[1-9]\d*$/, 'a priority level (1, 2, ...)'), queuePolicySchema).optional(),
  })
  .strict();

export type DynamicBatchingOptions = z.input<typeof dynamicBatchingSchema>;

const providerSchema = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1),
      options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    })
    .strict(),
]);

export const loadOptionsSchema = z
  .object({
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    /** > 0 gives this model its own intra-op pool instead of the process-wide one. */
    intraOpThreads: count.default(0),
    interOpThreads: count.default(0),
    memoryArena: z.boolean().default(true),
    /** Where ORT writes the optimized graph (for inspection or faster later loads). */
    optimizedModelPath: z.string().min(1).optional(),
    /** In order of preference; cpu is always the last resort. */
    executionProviders: z.array(providerSchema).default(['cpu']),
    /** Raw ORT session config entries (onnxruntime_session_options_config_keys.h). */
    sessionConfigEntries: z.record(z.string(), z.string()).default({}),
    /** Triton's max_batch_size: 0 means the model has no batch dimension. */
    maxBatchSize: count.default(0),
    /**
     * Triton's auto-complete: when > 0 (and maxBatchSize is 0), the model batches up to this size with
     * dynamic batching if every input and output has a dynamic first dimension, else not at all.
     */
    autoMaxBatchSize: count.default(0),
    /** Triton's dynamic_batching; true means its defaults. */
    dynamicBatching: z.union([z.boolean(), dynamicBatchingSchema]).default(false),
    /** Triton's instance_group count: runner threads sharing the session. */
    instanceCount: z.number().int().min(1).max(64).default(1),
    /**
     * How long an idle scheduler polls for work before it sleeps (default: the engine's
     * spinMicroseconds); skipped for models whose batches take over 20 times this.
     */
    spinMicroseconds: count.max(10_000).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const db = typeof o.dynamicBatching === 'object' ? o.dynamicBatching : undefined;
    if (o.autoMaxBatchSize > 0 && o.maxBatchSize > 0) {
      ctx.addIssue({ code: 'custom', path: ['autoMaxBatchSize'], message: 'set either maxBatchSize or autoMaxBatchSize' });
    }
    const limit = o.maxBatchSize || o.autoMaxBatchSize;
    if (db && limit === 0) {
      ctx.addIssue({ code: 'custom', path: ['dynamicBatching'], message: 'dynamic batching needs maxBatchSize > 0' });
    }
    for (const [i, size] of (db?.preferredBatchSize ?? []).entries()) {
      if (size > limit) {
        ctx.addIssue({
          code: 'custom',
          path: ['dynamicBatching', 'preferredBatchSize', i],
          message: `${size} exceeds maxBatchSize ${limit}`,
        });
      }
    }
    if (db && db.priorityLevels > 1 && (db.defaultPriorityLevel < 1 || db.defaultPriorityLevel > db.priorityLevels)) {
      ctx.addIssue({
        code: 'custom',
        path: ['dynamicBatching', 'defaultPriorityLevel'],
        message: `must be between 1 and priorityLevels (${db.priorityLevels})`,
      });
    }
    for (const level of Object.keys(db?.priorityQueuePolicy ?? {})) {
      if (Number(level) > Math.max(1, db?.priorityLevels ?? 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['dynamicBatching', 'priorityQueuePolicy', level],
          message: `level ${level} exceeds priorityLevels (${db?.priorityLevels ?? 0})`,
        });
      }
    }
  });

export type LoadOptions = z.input<typeof loadOptionsSchema>;
type ParsedLoadOptions = z.output<typeof loadOptionsSchema>;

export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const details = result.error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
  throw new TensorgateError('INVALID_ARGUMENT', `invalid ${what}: ${details}`);
}

const OPTIMIZATION_LEVEL = { disabled: 0, basic: 1, extended: 2, all: 99 } as const;
export const ORT_LOG_LEVEL = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

export function toNativeSession(o: ParsedLoadOptions): NativeSessionOptions {
  return {
    graphOptimizationLevel: OPTIMIZATION_LEVEL[o.graphOptimizationLevel],
    intraOpThreads: o.intraOpThreads,
    interOpThreads: o.interOpThreads,
    memoryArena: o.memoryArena,
    ...(o.optimizedModelPath ? { optimizedModelPath: o.optimizedModelPath } : {}),
    providers: o.executionProviders.map((p) =>
      typeof p === 'string'
        ? { name: p, options: {} }
        : { name: p.name, options: Object.fromEntries(Object.entries(p.options ?? {}).map(([k, v]) => [k, String(v)])) },
    ),
    configEntries: o.sessionConfigEntries,
  };
}

function toNativePolicy(p: z.output<typeof queuePolicySchema> | undefined): NativeQueuePolicy {
  return p ?? queuePolicySchema.parse({});
}

export function toNativeBatching(o: ParsedLoadOptions, defaultSpinMicroseconds: number = DEFAULT_SPIN_MICROSECONDS): NativeBatchingOptions {
  const db = o.dynamicBatching === true ? dynamicBatchingSchema.parse({}) : o.dynamicBatching || undefined;
  const levels: Record<number, NativeQueuePolicy> = {};
  for (const [level, policy] of Object.entries(db?.priorityQueuePolicy ?? {})) levels[Number(level)] = toNativePolicy(policy);
  return {
    maxBatchSize: o.maxBatchSize,
    autoMaxBatchSize: o.autoMaxBatchSize,
    dynamicBatching: db !== undefined && o.maxBatchSize > 0,
    preferredBatchSize: db?.preferredBatchSize ?? [],
    maxQueueDelayMicroseconds: db?.maxQueueDelayMicroseconds ?? 0,
    priorityLevels: db?.priorityLevels ?? 0,
    defaultPriorityLevel: db?.defaultPriorityLevel ?? 0,
    defaultQueuePolicy: toNativePolicy(db?.defaultQueuePolicy),
    priorityQueuePolicy: levels,
    instanceCount: o.instanceCount,
    spinMicroseconds: o.spinMicroseconds ?? defaultSpinMicroseconds,
  };
}

/** The addon's init options for parsed engine options: shared by Engine.create and the CUDA self-test. */
export function nativeInitOptions(o: ParsedEngineOptions, library: string): NativeInitOptions {
  const threadsExplicit = o.intraOpThreads !== undefined || o.interOpThreads !== undefined || o.allowSpinning !== undefined;
  return {
    library,
    eventLoopSpinMicroseconds: o.eventLoopSpinMicroseconds,
    datatypes: [
      ...DATATYPE_TABLE.map((r) => ({ onnx: r.onnx, name: r.name, size: r.size, supported: true })),
      ...UNSUPPORTED_ONNX_TYPES.map((r) => ({ onnx: r.onnx, name: r.name, size: 0, supported: false })),
    ],
    intraOpThreads: o.intraOpThreads ?? 0,
    interOpThreads: o.interOpThreads ?? 0,
    allowSpinning: o.allowSpinning ?? false,
    logLevel: ORT_LOG_LEVEL[o.ortLogLevel ?? 'error'],
    threadsExplicit,
    isMainThread,
  };
}

export type ParsedEngineOptions = z.output<typeof engineOptionsSchema>;

/** Engine options validated (without the logger). */
export function parseEngineOptions(options: Omit<EngineOptions, 'logger'>): ParsedEngineOptions {
  return parseOptions(engineOptionsSchema, options, 'engine options');
}
