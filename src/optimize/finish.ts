// How every optimization command ends: compare the new model with the original (report printed and
// written as JSON), apply --check, and publish the new model as a repository version when asked —
// only when the checks pass, so a CI pipeline never ships a model that failed them.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine, LoadOptions } from '../engine/index.js';
import type { TensorMetadata } from '../engine/tensor.js';
import { toLoadOptions } from '../repository/load-options.js';
import type { Sample } from './calibration.js';
import { compareModels } from './compare.js';
import { detectCpuFeatures, INT8_DOT_FLAGS } from './cpu-features.js';
import { accuracyFlags, evaluateChecks, formatReport, type OptimizeReport } from './report.js';
import { publishVersion, repositoryConfig } from './repository-writer.js';
import { parseShapes, randomSamples, readSamples } from './samples.js';

export interface ReportSettings {
  /** Request bodies to compare on (also the calibration data of static quantization). */
  samplesPath?: string;
  /** Random samples when there is no samplesPath. */
  randomCount: number;
  seed: number;
  shapes: readonly string[];
  runs: number;
  /** Latency row at this batch size; undefined: the repository config's max_batch_size, else 64. */
  maxBatchSize?: number;
  reportPath?: string;
  checks: readonly string[];
  /** Skip the comparison (no report, no checks). */
  skip: boolean;
}

export interface Target {
  output?: string;
  repository?: { dir: string; model: string; version?: number };
}

export interface FinishRequest {
  command: string;
  engine: Engine;
  original: { path: string; bytes: number };
  optimized: { path: string; bytes: number; files: string[] };
  transform: Record<string, unknown>;
  /** Findings of the transform itself (e.g. forced 8-bit weights on a CPU where they saturate). */
  flags: string[];
  settings: ReportSettings;
  target: Target;
  /** Load options of the original, over the repository config's (optimize: the level being compared). */
  baselineLoad?: LoadOptions;
  /** Load options for the new model when it differs (an offline-optimized model needs no second pass). */
  candidateLoad?: LoadOptions;
  print(text: string): void;
}

/** Loads request bodies or makes random inputs for the given signature. */
export async function makeSamples(settings: ReportSettings, inputs: readonly TensorMetadata[]): Promise<{ samples: Sample[]; source: string }> {
  if (settings.samplesPath) return { samples: await readSamples(settings.samplesPath, inputs), source: settings.samplesPath };
  return { samples: randomSamples(inputs, settings.randomCount, settings.seed, parseShapes(settings.shapes)), source: `random inputs, seed ${settings.seed}` };
}

/** Returns the exit code: 0, or 1 when a --check failed. */
export async function finish(req: FinishRequest): Promise<number> {
  const { settings, target, engine } = req;
  const repoConfig = target.repository ? repositoryConfig(target.repository.dir, target.repository.model) : undefined;
  const baselineLoad: LoadOptions = { ...(repoConfig ? pick(toLoadOptions(repoConfig, 64)) : {}), ...req.baselineLoad };
  let report: OptimizeReport | undefined;
  if (!settings.skip) {
    const probe = await engine.load(req.original.path, baselineLoad);
    const inputs = probe.metadata.inputs;
    await probe.unload();
    const { samples, source } = await makeSamples(settings, inputs);
    const comparison = await compareModels(engine, req.original.path, req.optimized.path, {
      samples,
      sampleSource: source,
      runs: settings.runs,
      maxBatchSize: settings.maxBatchSize ?? (repoConfig?.max_batch_size || 64),
      baselineLoad,
      candidateLoad: { ...baselineLoad, ...req.candidateLoad },
    });
    report = {
      command: req.command,
      createdAt: new Date().toISOString(),
      original: req.original,
      optimized: req.optimized,
      sizeRatio: req.optimized.bytes / req.original.bytes,
      transform: req.transform,
      comparison,
      flags: [...req.flags, ...accuracyFlags(comparison)],
      checks: [],
      passed: true,
      machine: machine(engine),
    };
    report.checks = evaluateChecks(report, settings.checks);
    report.passed = report.checks.every((c) => c.passed);
    req.print(`\n${formatReport(report)}`);
  }

  let published: Awaited<ReturnType<typeof publishVersion>> | undefined;
  if (target.repository && (report?.passed ?? true)) {
    const candidate = await engine.load(req.optimized.path, { ...baselineLoad, ...req.candidateLoad });
    const { inputs, outputs } = candidate.metadata;
    await candidate.unload();
    published = await publishVersion({ repository: target.repository.dir, model: target.repository.model, version: target.repository.version, files: req.optimized.files, inputs, outputs });
    req.print(`published ${target.repository.model} version ${published.version} (${published.dir})\n  ${published.advice}\n`);
  } else if (target.repository) {
    req.print(`not published to ${target.repository.dir}: a --check failed\n`);
  }

  if (report) {
    const path =
      settings.reportPath ??
      (target.output ? `${target.output}.report.json` : join(target.repository!.dir, target.repository!.model, `${req.command}-report${published ? `-v${published.version}` : ''}.json`));
    await writeFile(path, `${JSON.stringify({ ...report, ...(published ? { published: { version: published.version, dir: published.dir } } : {}) }, jsonNumbers, 2)}\n`);
    req.print(`report: ${path}\n`);
  }
  return report && !report.passed ? 1 : 0;
}

/** The load options of a repository config that change how a model runs (not batching or instances). */
function pick(o: LoadOptions): LoadOptions {
  const { graphOptimizationLevel, intraOpThreads, interOpThreads, memoryArena, executionProviders } = o;
  return Object.fromEntries(Object.entries({ graphOptimizationLevel, intraOpThreads, interOpThreads, memoryArena, executionProviders }).filter(([, v]) => v !== undefined));
}

/** JSON has no Infinity/NaN: write them as strings. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function machine(engine: Engine): Record<string, unknown> {
  const cpu = detectCpuFeatures();
  let model = '';
  try {
    model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux
  }
  return {
    cpu: model || undefined,
    arch: cpu.arch,
    int8DotProduct: INT8_DOT_FLAGS.filter((f) => cpu.flags.has(f)),
    onnxRuntime: engine.runtime.ortVersion,
    node: process.version,
  };
}
