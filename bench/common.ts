// Shared bits of the benchmarks: the onnxruntime-node child, result files and tables.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

const run = promisify(execFile);

/** Runs a job in a fresh onnxruntime-node process and returns its JSON answer. */
export async function ortNodeJob<T>(job: Record<string, unknown>): Promise<T> {
  const { stdout } = await run(process.execPath, [join(BENCH_DIR, 'ort-node-child.mjs'), JSON.stringify(job)], {
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout) as T;
}

export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? ''));
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => cell(r[k]))))].join('\n');
}

export function machine(): Record<string, unknown> {
  return { node: process.version, platform: `${process.platform}-${process.arch}`, date: new Date().toISOString() };
}

const ROW: Record<string, number> = { tiny: 16, mlp: 256 };

/** The v2 JSON body of one row for an example model (tiny: 16 inputs, mlp: 256). */
export function inferBody(model: string): string {
  const n = ROW[model]!;
  const data = Array.from({ length: n }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);
  return JSON.stringify({ inputs: [{ name: 'x', shape: [1, n], datatype: 'FP32', data }] });
}
