// Before a rewrite, the model goes once through ONNX Runtime's 'basic' graph optimizations (what ORT's
// own quantization pre-processing does): constant folding, Constant nodes as initializers, BatchNorm
// folded into Conv, redundant nodes removed. Those rewrites are hardware-independent, so the result
// is as portable as the input, and the quantizers see weights where they are used.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../engine/index.js';

export interface Preprocessed {
  /** The optimized copy (inside `dir`). */
  path: string;
  /** Removes the temporary directory. */
  dispose(): void;
}

/** Writes `source` optimized at level 'basic' to a temporary file. */
export async function preprocessModel(engine: Engine, source: string, options: { externalData: boolean }): Promise<Preprocessed> {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgate-optimize-'));
  const path = join(dir, 'model.onnx');
  const sessionConfigEntries: Record<string, string> = options.externalData
    ? {
        'session.optimized_model_external_initializers_file_name': 'model.onnx.data',
        'session.optimized_model_external_initializers_min_size_in_bytes': '1024',
      }
    : {};
  try {
    const model = await engine.load(source, { graphOptimizationLevel: 'basic', optimizedModelPath: path, sessionConfigEntries });
    await model.unload();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
