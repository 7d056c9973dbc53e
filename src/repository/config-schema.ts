// A model's configuration in Triton's model-config JSON form (model_config.proto field names), so a
// Triton user recognises every key. Validated once at load; 64-bit fields accept JSON numbers or the
// decimal strings protobuf's JSON mapping produces.
import { z } from 'zod';
import { TRITON_TYPES, type TritonDataType } from '../engine/datatype.js';
import { monitoringConfigSchema } from '../monitoring/config.js';
import { ROUTE_PLATFORM, routingSchema } from './routing-schema.js';

const uint = z.union([z.number().int().min(0), z.string().regex(/^\d+$/, 'a non-negative integer').transform(Number)], { error: 'expected a non-negative integer (a number or a decimal string)' });
const int = z.union([z.number().int(), z.string().regex(/^-?\d+$/, 'an integer').transform(Number)], { error: 'expected an integer (a number or a decimal string)' });

/** Triton's TYPE_ names: the triton column of the datatype table. */
export const TRITON_DATA_TYPES = TRITON_TYPES;

/**
 * A Triton field tensorgate does not implement: accepted only at its default value (so a config that
 * spells the default out still loads), refused with `why` otherwise. No field is accepted and ignored.
 */
function onlyDefault<T extends z.ZodType>(schema: T, isDefault: (v: z.output<T>) => boolean, why: string) {
  return schema.refine(isDefault, why).optional();
}

const tensorSchema = z
  .object({
    name: z.string().min(1),
    data_type: z.enum(TRITON_DATA_TYPES),
    /** Dims without the batch dimension when max_batch_size > 0; -1 for a variable dim. */
    dims: z.array(int.refine((d) => d >= -1, 'a dim is -1 or >= 0')),
    reshape: z
      .unknown()
      .refine((v) => v === undefined, 'not supported: tensorgate feeds the model the shapes the client sends; give the model the shape clients use (or reshape inside it)')
      .optional(),
    optional: onlyDefault(z.boolean(), (v) => !v, 'optional inputs are not supported: every model input must be sent'),
    allow_ragged_batch: onlyDefault(
      z.boolean(),
      (v) => !v,
      "not supported: the ONNX Runtime backend batches only requests of equal shapes (Triton's ragged batching needs a batch_input the model reads)",
    ),
    format: onlyDefault(z.string(), (v) => v === 'FORMAT_NONE', 'only FORMAT_NONE: tensors are passed as they are'),
    is_shape_tensor: onlyDefault(z.boolean(), (v) => !v, 'shape tensors are not supported'),
  })
  .strict();

const queuePolicySchema = z
  .object({
    timeout_action: z.enum(['REJECT', 'DELAY']).default('REJECT'),
    default_timeout_microseconds: uint.default(0),
    allow_timeout_override: z.boolean().default(false),
    max_queue_size: uint.default(0),
  })
  .strict();

const dynamicBatchingSchema = z
  .object({
    preferred_batch_size: z.array(uint.refine((n) => n > 0, 'a batch size > 0')).default([]),
    max_queue_delay_microseconds: uint.default(0),
    /** Responses in the order requests reached the scheduler (src/inference/ordering.ts). */
    preserve_ordering: z.boolean().default(false),
    priority_levels: uint.default(0),
    default_priority_level: uint.default(0),
    default_queue_policy: queuePolicySchema.optional(),
    priority_queue_policy: z.record(z.string().regex(/^[1-9]\d*$/, 'a priority level'), queuePolicySchema).optional(),
  })
  .strict();

const instanceGroupSchema = z
  .object({
    name: z.string().optional(),
    count: uint.default(1),
    kind: z.enum(['KIND_AUTO', 'KIND_CPU', 'KIND_GPU', 'KIND_MODEL']).default('KIND_AUTO'),
    /** KIND_GPU only: the CUDA device (one per model version: see load-options.ts). */
    gpus: z.array(uint).min(1).optional(),
  })
  .strict()
  .refine((g) => g.gpus === undefined || g.kind === 'KIND_GPU', { path: ['gpus'], message: 'gpus needs kind KIND_GPU' });

const versionPolicySchema = z.union([
  z.object({ latest: z.object({ num_versions: uint.refine((n) => n > 0, 'at least 1') }).strict() }).strict(),
  z.object({ all: z.object({}).strict() }).strict(),
  z.object({ specific: z.object({ versions: z.array(uint).min(1) }).strict() }).strict(),
]);

const warmupInputSchema = z
  .object({
    data_type: z.enum(TRITON_DATA_TYPES),
    dims: z.array(uint),
    zero_data: z.boolean().optional(),
    random_data: z.boolean().optional(),
    input_data_file: z.string().optional(),
  })
  .strict()
  .refine((i) => [i.zero_data, i.random_data, i.input_data_file].filter((v) => v !== undefined && v !== false).length === 1, {
    message: 'exactly one of zero_data, random_data or input_data_file',
  });

const warmupSchema = z
  .object({
    name: z.string().min(1),
    batch_size: uint.default(1),
    inputs: z.record(z.string(), warmupInputSchema),
    count: uint.default(1),
  })
  .strict();

/** Triton's ModelEnsembling.Step: a composing model and how its tensors map to the ensemble's. */
const ensembleStepSchema = z
  .object({
    model_name: z.string().min(1),
    /** -1 (default): the latest served version, resolved per request. */
    model_version: int.refine((v) => v >= -1, 'a version number, or -1 for the latest').default(-1),
    /** composing model input -> ensemble tensor */
    input_map: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** composing model output -> ensemble tensor */
    output_map: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .strict();

const ensembleSchedulingSchema = z
  .object({
    step: z.array(ensembleStepSchema).min(1, 'an ensemble has at least one step'),
    /** Concurrent calls per step of this ensemble (0: unlimited). */
    max_inflight_requests: uint.default(0),
  })
  .strict();

const acceleratorSchema = z
  .object({ name: z.string().min(1), parameters: z.record(z.string(), z.string()).default({}) })
  .strict();

const optimizationSchema = z
  .object({
    /** Triton's ONNX Runtime backend values: -1 basic, 0 (or absent) all, 1 extended, 2 disabled. */
    graph: z
      .object({
        level: int.refine((l) => l >= -1 && l <= 2, '-1 (basic), 0 (all: the default), 1 (extended) or 2 (disabled), as Triton\'s ONNX Runtime backend'),
      })
      .strict()
      .optional(),
    execution_accelerators: z
      .object({
        gpu_execution_accelerator: z.array(acceleratorSchema).default([]),
        cpu_execution_accelerator: z.array(acceleratorSchema).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

export const modelConfigSchema = z
  .object({
    name: z.string().optional(),
    platform: z.enum(['onnxruntime_onnx', 'onnx_onnxv1', 'ensemble', ROUTE_PLATFORM]).optional(),
    /** onnxruntime, or js: model code in JavaScript (Triton's python backend, on worker threads). */
    backend: z.enum(['onnxruntime', 'js']).optional(),
    // Absent: decided from the model (auto-complete; see load-options.ts).
    max_batch_size: uint.optional(),
    input: z.array(tensorSchema).optional(),
    output: z.array(tensorSchema).optional(),
    dynamic_batching: dynamicBatchingSchema.optional(),
    instance_group: z.array(instanceGroupSchema).optional(),
    version_policy: versionPolicySchema.optional(),
    model_warmup: z.array(warmupSchema).default([]),
    response_cache: z
      .object({ enable: z.boolean().default(false), ttl_s: uint.optional() })
      .strict()
      .optional(),
    optimization: optimizationSchema.optional(),
    /** Drift and data-quality monitoring (tensorgate's own section: src/monitoring/config.ts). */
    monitoring: monitoringConfigSchema.optional(),
    parameters: z.record(z.string(), z.object({ string_value: z.string() }).strict()).default({}),
    default_model_filename: z.string().optional(),
    ensemble_scheduling: ensembleSchedulingSchema.optional(),
    /** A route's traffic management (platform tensorgate_route): routing-schema.ts. */
    routing: routingSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ensemble = c.platform === 'ensemble';
    if (ensemble && c.backend !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['backend'], message: `an ensemble (platform 'ensemble') has no backend, got '${c.backend}'` });
    }
    if (c.backend === 'js' && c.platform !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['platform'], message: `a JavaScript model (backend 'js') has no platform, got '${c.platform}'` });
    }
    if (ensemble && c.ensemble_scheduling === undefined) {
      ctx.addIssue({ code: 'custom', path: ['ensemble_scheduling'], message: "required for platform 'ensemble'" });
    }
    if (!ensemble && c.ensemble_scheduling !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['ensemble_scheduling'], message: "only for platform 'ensemble'" });
    }
    const route = c.platform === ROUTE_PLATFORM;
    if (route && c.routing === undefined) ctx.addIssue({ code: 'custom', path: ['routing'], message: `platform ${ROUTE_PLATFORM} needs a routing section` });
    if (!route && c.routing !== undefined) ctx.addIssue({ code: 'custom', path: ['routing'], message: `routing is for platform ${ROUTE_PLATFORM}` });
    if (!route) return;
    // A route runs no model of its own: the fields that configure one would be accepted and ignored.
    const modelFields = ['backend', 'max_batch_size', 'input', 'output', 'dynamic_batching', 'instance_group', 'version_policy', 'response_cache', 'optimization', 'default_model_filename'] as const;
    for (const f of modelFields) {
      if (c[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `a route runs no model of its own: configure ${f} on its targets` });
    }
    if (c.model_warmup.length > 0) ctx.addIssue({ code: 'custom', path: ['model_warmup'], message: 'a route runs no model of its own: warm up its targets' });
    if (Object.keys(c.parameters).length > 0) ctx.addIssue({ code: 'custom', path: ['parameters'], message: 'a route takes no backend parameters' });
  });

export type ModelConfigInput = z.input<typeof modelConfigSchema>;
export type ModelConfig = z.output<typeof modelConfigSchema>;
export type { TritonDataType };
export type VersionPolicy = NonNullable<ModelConfig['version_policy']>;
export type TensorConfig = NonNullable<ModelConfig['input']>[number];
export type WarmupConfig = ModelConfig['model_warmup'][number];
export type EnsembleScheduling = NonNullable<ModelConfig['ensemble_scheduling']>;
export type EnsembleStep = EnsembleScheduling['step'][number];
