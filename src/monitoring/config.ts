// The `monitoring` section of a model config (tensorgate's own; Triton has none): drift and data
// quality for the model's inputs and outputs. Its presence turns monitoring on (`enable: false` keeps
// the settings and turns it off). Defaults are those users of Evidently, NannyML and alibi-detect know:
// PSI 0.1 warning / 0.25 drift, KS p < 0.05 with Bonferroni across features, Jensen–Shannon 0.1.
import { z } from 'zod';

const count = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.number({ error: 'expected a number' }).int('expected an integer').min(min, `at least ${min}`).max(max, `at most ${max}`);

const names = z.array(z.string().min(1)).refine((a) => new Set(a).size === a.length, 'names must be unique');

export const monitoringConfigSchema = z
  .object({
    enable: z.boolean().default(true),
    /** Fraction of requests whose tensors are observed (deterministic: every 1/rate-th request). */
    sample_rate: z.number().gt(0, 'greater than 0').max(1, 'at most 1').default(1),
    /** The live window: the last N rows of each feature. */
    window_rows: count(10).default(1000),
    /** Rows the window needs before drift is evaluated. */
    min_rows: count(1).default(200),
    /** A tensor with more elements per row (or a variable row size) is watched through each row's mean and std. */
    max_features: count(1, 4096).default(64),
    /** Tensors watched; default every input / every output ([] for none). */
    inputs: names.optional(),
    outputs: names.optional(),
    /** Tensors whose values are categories (BOOL and BYTES always are). */
    categorical: names.default([]),
    reference: z
      .object({
        /** A profile (samples or precomputed bins), relative to the model directory. */
        file: z.string().min(1).optional(),
        /** Without a file: the reference is the first N observed rows. */
        learn_rows: count(10).optional(),
      })
      .strict()
      .refine((r) => !(r.file !== undefined && r.learn_rows !== undefined), 'give either file or learn_rows, not both')
      .default({}),
    psi: z
      .object({
        warning: z.number().gt(0).default(0.1),
        drift: z.number().gt(0).default(0.25),
        bins: count(2, 100).default(10),
      })
      .strict()
      .refine((p) => p.warning <= p.drift, { message: 'warning must not exceed drift', path: ['warning'] })
      .default({ warning: 0.1, drift: 0.25, bins: 10 }),
    ks: z
      .object({
        p_value: z.number().gt(0).lt(1).default(0.05),
        correction: z.enum(['bonferroni', 'none']).default('bonferroni'),
      })
      .strict()
      .default({ p_value: 0.05, correction: 'bonferroni' }),
    js: z
      .object({ threshold: z.number().gt(0).max(Math.sqrt(Math.LN2), 'at most √ln 2 ≈ 0.833 (the largest distance)').default(0.1) })
      .strict()
      .default({ threshold: 0.1 }),
    /** A value counts as out of range beyond the reference's [min, max] widened by this fraction of its width. */
    range_tolerance: z.number().min(0).default(0.1),
  })
  .strict()
  .refine((m) => m.min_rows <= m.window_rows, { message: 'min_rows must not exceed window_rows', path: ['min_rows'] });

export type MonitoringConfig = z.output<typeof monitoringConfigSchema>;

/** Rows learned as the reference when the config names no file. */
export const DEFAULT_LEARN_ROWS = 1000;
