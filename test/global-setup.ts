// Generates the example model repository (the same one `npm run models` writes) before any test.
import { resolve } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';

export const EXAMPLES_DIR = resolve(import.meta.dirname, '..', 'examples', 'models');

export default async function setup(): Promise<void> {
  await makeExampleModels(EXAMPLES_DIR);
}
