// Writes the example model repository (Triton layout: <dir>/<model>/<version>/model.onnx).
// Usage: node dist/tools/make-example-models.js <dir>
// Re-running is cheap: files whose bytes are already identical are left untouched.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { mlpModel, tinyModel, transformerEncoderModel, treeEnsembleModel } from '../onnx/models.js';

export const EXAMPLE_MODELS: Readonly<Record<string, () => Uint8Array>> = {
  tiny: tinyModel,
  mlp: () => mlpModel(),
  encoder: () => transformerEncoderModel(),
  trees: () => treeEnsembleModel(),
};

/** Writes every example model under `dir`; returns the paths it actually (re)wrote. */
export async function makeExampleModels(dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [name, build] of Object.entries(EXAMPLE_MODELS)) {
    const file = path.join(dir, name, '1', 'model.onnx');
    if (await writeIfChanged(file, build())) written.push(file);
  }
  return written;
}

/** Atomic write (temp file + rename) unless `file` already holds exactly `bytes`. */
async function writeIfChanged(file: string, bytes: Uint8Array): Promise<boolean> {
  const existing = await readFile(file).catch(() => undefined);
  if (existing?.equals(bytes)) return false;
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return true;
}

async function main(argv: string[]): Promise<void> {
  const dir = argv[0];
  if (!dir || argv.length !== 1) {
    process.stderr.write('usage: make-example-models <dir>\n');
    process.exitCode = 2;
    return;
  }
  const written = await makeExampleModels(dir);
  const names = Object.keys(EXAMPLE_MODELS).length;
  process.stdout.write(`${dir}: wrote ${written.length} of ${names} models\n`);
  for (const file of written) process.stdout.write(`  ${file}\n`);
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
