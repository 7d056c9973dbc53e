// One Engine per test process (vitest runs each file in its own fork), and paths to test models.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Engine } from '../../src/engine/index.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const EXAMPLES = join(ROOT, 'examples', 'models');
export const examplePath = (name: string): string => join(EXAMPLES, name, '1', 'model.onnx');

let engine: Engine | undefined;
export function testEngine(): Engine {
  engine ??= Engine.create();
  return engine;
}

/** Writes model bytes to a fresh temp file and returns its path. */
export function writeTempModel(bytes: Uint8Array, name = 'model.onnx'): string {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgate-test-'));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
