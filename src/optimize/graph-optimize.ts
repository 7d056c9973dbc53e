// `tensorgate optimize`: ONNX Runtime's own graph optimizations, saved offline (the addon's
// optimizedModelPath), so a server loads the result without optimizing again. Levels: basic
// (constant folding, redundant nodes, Conv+BatchNorm; portable), extended (fusions into ONNX Runtime
// contrib ops: runs on ONNX Runtime only), all (adds NCHWc layouts sized for this CPU's vectors:
// valid only on CPUs like this one).
import { statSync } from 'node:fs';
import type { Engine } from '../engine/index.js';
import { readModelFile } from './model-file.js';
import { opCounts } from './onnx-model.js';
import type { QuantizeResult } from './quantize.js';
import { table } from './report.js';

export type OptimizationLevel = 'basic' | 'extended' | 'all';

export interface GraphOptimizeRequest {
  input: string;
  output: string;
  level: OptimizationLevel;
}

export async function optimizeGraph(engine: Engine, req: GraphOptimizeRequest): Promise<QuantizeResult> {
  const original = await readModelFile(req.input);
  const external = original.externalFiles.length > 0;
  const model = await engine.load(req.input, {
    graphOptimizationLevel: req.level,
    optimizedModelPath: req.output,
    sessionConfigEntries: external
      ? {
          'session.optimized_model_external_initializers_file_name': `${req.output.split('/').pop()}.data`,
          'session.optimized_model_external_initializers_min_size_in_bytes': '1024',
        }
      : {},
  });
  await model.unload();
  const optimized = await readModelFile(req.output);
  const before = opCounts(original.model);
  const after = opCounts(optimized.model);
  const ops = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  const portability = portabilityNotes(req.level, after);
  const lines = [
    `ONNX Runtime level '${req.level}': ${total(before)} nodes → ${total(after)}`,
    table(['op type', 'before', 'after'], [...ops.map((op) => [op, String(before[op] ?? 0), String(after[op] ?? 0)]), ['total', String(total(before)), String(total(after))]]),
    ...portability,
  ];
  const files = [req.output, ...(external ? [`${req.output}.data`] : [])];
  return {
    written: { files, bytes: files.reduce((n, f) => n + statSync(f).size, 0) },
    flags: [],
    lines,
    transform: { level: req.level, opsBefore: before, opsAfter: after, nodesBefore: total(before), nodesAfter: total(after), notes: portability },
  };
}

function portabilityNotes(level: OptimizationLevel, after: Record<string, number>): string[] {
  const nchwc = Object.keys(after).filter((op) => op.startsWith('com.microsoft.nchwc:'));
  const contrib = Object.keys(after).filter((op) => op.startsWith('com.microsoft:'));
  const notes: string[] = [];
  if (nchwc.length > 0) {
    notes.push(`only valid on this CPU: level 'all' inserted NCHWc layout ops (${nchwc.map((o) => o.split(':')[1]).join(', ')}) whose block size follows this CPU's vector width; use --level extended for a file other machines can load`);
  } else if (level === 'all') {
    notes.push("level 'all' inserted no hardware-specific (NCHWc) ops into this model; the file still carries ONNX Runtime's fusions");
  }
  if (contrib.length > 0) notes.push(`ONNX Runtime only: the file uses its contrib ops (${contrib.map((o) => o.split(':')[1]).join(', ')})`);
  if (level !== 'basic') notes.push("serve it with \"optimization\": {\"graph\": {\"level\": -1}} in the model's config so the server does not optimize it again");
  return notes;
}
