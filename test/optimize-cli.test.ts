// The optimization commands as a user runs them (`tensorgate optimize|quantize|convert-fp16|
// build-engine` in a child process): exit codes, the printed report and its JSON, --check for CI,
// publishing into a repository (and refusing to when it would break the model's config or a check
// failed), external data, and build-engine's error where no GPU provider is available.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlpModel } from '../src/onnx/models.js';
import { readModelBytes, writeModelFile } from '../src/optimize/model-file.js';
import type { OptimizeReport } from '../src/optimize/report.js';
import { OCR_CLS, runCli, tempDir } from './helpers/optimize-kit.js';

const FAST = ['--runs', '3', '--max-batch-size', '2', '--samples', '8'];

let mlp: string;
beforeAll(() => {
  mlp = join(tempDir(), 'mlp.onnx');
  writeFileSync(mlp, mlpModel({ hidden: [128], inputSize: 64, outputSize: 8 }));
});

function newRepo(config: Record<string, unknown>): string {
  const root = tempDir('tg-opt-repo-');
  mkdirSync(join(root, 'mlp', '1'), { recursive: true });
  writeFileSync(join(root, 'mlp', '1', 'model.onnx'), readFileSync(mlp));
  writeFileSync(join(root, 'mlp', 'config.json'), JSON.stringify(config));
  return root;
}

const DECLARED = {
  max_batch_size: 8,
  input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [64] }],
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [8] }],
};

describe('tensorgate quantize', () => {
  it('prints the weight range and why, the report tables, and writes the JSON report', async () => {
    const out = join(tempDir(), 'q.onnx');
    const r = await runCli(['quantize', mlp, '-o', out, ...FAST]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^(7-bit weights: no avx512_vnni|8-bit weights: the CPU has)/);
    expect(r.stdout).toMatch(/quantized 2 nodes \(2 Gemm\)/);
    expect(r.stdout).toMatch(/output\s+max abs err\s+max rel err\s+rel RMSE\s+top-1 agreement/);
    expect(r.stdout).toMatch(/p50 batch 1 .*×\n.*p50 batch 2 .*×\nfile size/);
    const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as OptimizeReport;
    expect(report.command).toBe('quantize');
    expect(report.comparison.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
    expect(report.comparison.latency.map((l) => l.batch)).toEqual([1, 2]);
    expect(report.transform).toMatchObject({ mode: 'dynamic', weightBitsReason: expect.any(String) });
    expect(report.sizeRatio).toBeLessThan(0.4);
    expect(report.passed).toBe(true);
  });

  it('--check turns the report into an exit code: 1 when a threshold fails, 0 when all hold', async () => {
    const out = join(tempDir(), 'q.onnx');
    const fail = await runCli(['quantize', mlp, '-o', out, ...FAST, '--check', 'rel_rmse<=0.000001', '--check', 'size_ratio<=0.5']);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/FAIL --check rel_rmse<=0.000001 \(rel_rmse = /);
    expect(fail.stdout).toMatch(/PASS --check size_ratio<=0.5/);
    expect((JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as OptimizeReport).passed).toBe(false);
    const pass = await runCli(['quantize', mlp, '-o', out, ...FAST, '--check', 'rel_rmse<=0.05', '--check', 'flags']);
    expect(pass.code).toBe(0);
  });

  it('rejects bad arguments with exit 2 and a message naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['quantize', mlp], /-o\/--output FILE or --repository DIR --model NAME is required/],
      [['quantize', mlp, '-o', '/tmp/x.onnx', '--check', 'speed>2'], /--check 'speed>2'.*metrics: rel_rmse/],
      [['quantize', mlp, '-o', '/tmp/x.onnx', '--mode', 'static'], /--mode static needs --calibration/],
      [['quantize', mlp, '-o', '/tmp/x.onnx', '--weight-bits', '4'], /--weight-bits: 7 or 8/],
      [['quantize', mlp, '-o', '/tmp/x.onnx', '--no-report', '--check', 'flags'], /--check needs the report/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('writes and reads external data (--external-data always), and quantizes a model that has it', async () => {
    const dir = tempDir();
    const r = await runCli(['quantize', mlp, '-o', join(dir, 'q.onnx'), '--external-data', 'always', ...FAST]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['q.onnx', 'q.onnx.data', 'q.onnx.report.json']);
    const ext = join(tempDir(), 'ext.onnx');
    await writeModelFile(readModelBytes(readFileSync(mlp)), ext, { externalData: 'always' });
    const again = await runCli(['quantize', ext, '-o', join(dir, 'q2.onnx'), ...FAST]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/quantized 2 nodes/);
  });
});

describe('publishing into a repository', () => {
  it('writes the next version, says how to canary it, and puts the report beside the versions', async () => {
    const root = newRepo(DECLARED);
    const r = await runCli(['quantize', mlp, '--repository', root, '--model', 'mlp', ...FAST]);
    expect(r.code).toBe(0);
    expect(existsSync(join(root, 'mlp', '2', 'model.onnx'))).toBe(true);
    expect(r.stdout).toMatch(/published mlp version 2/);
    expect(r.stdout).toMatch(/replaces 1 at the next load; to canary it against 1, set "version_policy": \{"specific": \{"versions": \[1, 2\]\}\}/);
    expect(existsSync(join(root, 'mlp', 'quantize-report-v2.json'))).toBe(true);
    expect(readdirSync(join(root, 'mlp')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('with both versions served, says so; --version picks the number and refuses one that exists', async () => {
    const root = newRepo({ ...DECLARED, version_policy: { all: {} } });
    const r = await runCli(['quantize', mlp, '--repository', root, '--model', 'mlp', '--version', '7', '--no-report']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/versions 7, 1 are served side by side/);
    const again = await runCli(['quantize', mlp, '--repository', root, '--model', 'mlp', '--version', '7', '--no-report']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/mlp\/7 exists already/);
  });

  it('refuses an fp16 model whose inputs the config declares FP32, and publishes nothing', async () => {
    const root = newRepo(DECLARED);
    const r = await runCli(['convert-fp16', mlp, '--repository', root, '--model', 'mlp', '--no-report']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/declares input 'x' as TYPE_FP32, but the new model's is FP16 \(convert-fp16 --keep-io-types/);
    expect(readdirSync(join(root, 'mlp')).sort()).toEqual(['1', 'config.json']);
    const kept = await runCli(['convert-fp16', mlp, '--repository', root, '--model', 'mlp', '--keep-io-types', '--no-report']);
    expect(kept.code).toBe(0);
    expect(existsSync(join(root, 'mlp', '2', 'model.onnx'))).toBe(true);
  });

  it('does not publish when a --check fails', async () => {
    const root = newRepo(DECLARED);
    const r = await runCli(['quantize', mlp, '--repository', root, '--model', 'mlp', ...FAST, '--check', 'max_abs<=0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/not published .*: a --check failed/);
    expect(existsSync(join(root, 'mlp', '2'))).toBe(false);
  });
});

describe('tensorgate optimize', () => {
  it('prints node counts before and after, and warns when the file only fits this CPU', async () => {
    const out = join(tempDir(), 'cls.all.onnx');
    const r = await runCli(['optimize', OCR_CLS, '-o', out, '--shape', 'x:1x3x48x192', ...FAST]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ONNX Runtime level 'all': 471 nodes → \d+/);
    expect(r.stdout).toMatch(/BatchNormalization\s+35\s+0/);
    if (/com\.microsoft\.nchwc:/.test(r.stdout)) expect(r.stdout).toMatch(/only valid on this CPU/);
    const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as OptimizeReport;
    expect(report.comparison.accuracy[0]!.maxAbsError).toBeLessThan(1e-5);
    expect(report.comparison.loadMs.candidate).toBeGreaterThan(0);
  });

  it('at level basic the file is portable: no hardware-specific note', async () => {
    const r = await runCli(['optimize', OCR_CLS, '-o', join(tempDir(), 'cls.basic.onnx'), '--level', 'basic', '--no-report']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/only valid on this CPU|ONNX Runtime only/);
  });
});

describe('tensorgate build-engine', () => {
  it('exits 1 with "no GPU provider available" where TensorRT cannot load', async () => {
    const r = await runCli(['build-engine', mlp, '--cache-dir', tempDir(), '--fp16', '--max-batch-size', '16']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tensorgate build-engine: no GPU provider available: ONNX Runtime's TensorRT provider did not load \(.+\)/);
  });

  it('checks its arguments first', async () => {
    const r = await runCli(['build-engine', mlp, '--cache-dir', tempDir(), '--calibration-table', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--calibration-table needs --int8/);
  });
});

it('tensorgate --help lists the optimization commands', async () => {
  const r = await runCli(['--help']);
  for (const name of ['optimize', 'quantize', 'convert-fp16', 'build-engine']) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
});
