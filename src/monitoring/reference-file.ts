// A reference profile file (JSON or YAML), named by a model config's monitoring.reference.file:
// per tensor either rows of samples, or a precomputed profile per feature (numeric bins with their
// counts, or category counts). Validated here; checked against the model's tensors in plan.ts.
//
//   { "tensors": {
//       "x": { "feature_names": ["age", "income"], "samples": [[31, 52000], [45, 61000], ...] },
//       "y": { "features": [ { "edges": [0.1, 0.5, 0.9], "counts": [120, 300, 410, 170], "min": 0, "max": 1 } ] },
//       "colour": { "features": [ { "categories": { "red": 50, "green": 30, "blue": 20 } } ] } } }
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const scalar = z.union([z.number(), z.string(), z.boolean()]);

const numericBins = z
  .object({
    /** Ascending cut points; bin i holds values in (edges[i−1], edges[i]]. */
    edges: z.array(z.number()).min(1),
    /** One count per bin: edges.length + 1. */
    counts: z.array(z.number().min(0)),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.counts.length !== f.edges.length + 1) {
      ctx.addIssue({ code: 'custom', path: ['counts'], message: `expected ${f.edges.length + 1} counts (one per bin: edges.length + 1), got ${f.counts.length}` });
    }
    for (let i = 1; i < f.edges.length; i++) {
      if (!(f.edges[i]! > f.edges[i - 1]!)) ctx.addIssue({ code: 'custom', path: ['edges', i], message: 'edges must increase' });
    }
    if (!f.counts.some((c) => c > 0)) ctx.addIssue({ code: 'custom', path: ['counts'], message: 'at least one count must be positive' });
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) ctx.addIssue({ code: 'custom', path: ['min'], message: 'min exceeds max' });
  });

const categoryCounts = z
  .object({ categories: z.record(z.string(), z.number().min(0)).refine((c) => Object.values(c).some((n) => n > 0), 'at least one count must be positive') })
  .strict();

export type NumericBinsInput = z.output<typeof numericBins>;
export type CategoryCountsInput = z.output<typeof categoryCounts>;

const tensorReference = z
  .object({
    feature_names: z.array(z.string().min(1)).optional(),
    /** Rows: a row is an array of the tensor's per-row elements (a bare value for one-element rows). */
    samples: z.array(z.union([scalar, z.array(scalar)])).min(1).optional(),
    /** A precomputed profile per feature. */
    features: z.array(z.union([numericBins, categoryCounts])).min(1).optional(),
    /** The element range of a tensor watched through row summaries (precomputed profiles only). */
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict()
  .refine((t) => (t.samples === undefined) !== (t.features === undefined), 'give exactly one of samples or features');

export type TensorReferenceInput = z.output<typeof tensorReference>;

const referenceFile = z.object({ tensors: z.record(z.string(), tensorReference) }).strict();

export type ReferenceFile = z.output<typeof referenceFile>;

/** Reads and validates a reference file; `where` names it in messages. Throws with file and field. */
export function readReferenceFile(path: string, where: string): ReferenceFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${where}: cannot read the reference file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${where}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const result = referenceFile.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${where}: ${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
