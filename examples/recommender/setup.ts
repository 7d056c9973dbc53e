// Builds a runnable copy of the recommender's repository: the model directories (JavaScript steps,
// configs, ensembles), the catalog they import, and the ONNX files generated here (two versions of the
// transformer encoder, the tree ensemble). The route (`recommend`: the fallback chain ending in the
// static popular items; its canary variant in routes/recommend.canary.json) is copied too when asked.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformerEncoderModel, treeEnsembleModel } from '../../src/onnx/models.js';
import { parseModelConfig } from '../../src/repository/config-file.js';

export const EXAMPLE_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The encoder's versions: the same architecture, different weights (seeds). */
export const ENCODER_SEEDS: Record<number, number> = { 1: 2, 2: 7 };

export interface Prepared {
  /** The model repository to serve. */
  repository: string;
  /** Route directories copied in (empty when not asked for). */
  routes: string[];
}

/** Writes the repository under `dir` (dir/models, dir/lib). */
export function prepareRepository(dir: string, options: { routes: boolean }): Prepared {
  const repository = join(dir, 'models');
  mkdirSync(dir, { recursive: true });
  cpSync(join(EXAMPLE_DIR, 'lib'), join(dir, 'lib'), { recursive: true });
  cpSync(join(EXAMPLE_DIR, 'models'), repository, { recursive: true });
  for (const [version, seed] of Object.entries(ENCODER_SEEDS)) {
    mkdirSync(join(repository, 'encoder', version), { recursive: true });
    writeFileSync(join(repository, 'encoder', version, 'model.onnx'), transformerEncoderModel({ seed }));
  }
  mkdirSync(join(repository, 'trees', '1'), { recursive: true });
  writeFileSync(join(repository, 'trees', '1', 'model.onnx'), treeEnsembleModel());
  const routes: string[] = [];
  if (options.routes) {
    cpSync(join(EXAMPLE_DIR, 'routes', 'recommend'), join(repository, 'recommend'), { recursive: true });
    routes.push('recommend');
  }
  return { repository, routes };
}

/** The route's config during the rollout: the canary from encoder v1 to v2 (a reload of `recommend`). */
export function canaryConfig(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLE_DIR, 'routes', 'recommend.canary.json'), 'utf8')) as Record<string, unknown>;
}

/** Whether this build serves routes: their configs parse only where the route backend is in. */
export function routeBackendPresent(): { present: boolean; reason: string } {
  const where = 'routes/recommend/config.json';
  try {
    parseModelConfig(JSON.parse(readFileSync(join(EXAMPLE_DIR, where), 'utf8')), where, 'recommend');
    return { present: true, reason: '' };
  } catch (err) {
    return { present: false, reason: (err as Error).message };
  }
}
