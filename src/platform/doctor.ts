// `tensorgate doctor`'s findings: what this machine gives the server. Each finding says whether it
// was required (by a flag or the configuration) so the command can exit non-zero when something
// asked for is missing. Gathering never throws: a failure is a finding.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { addonChoice, nativeBinding, type NativeCudaStatus } from '../engine/binding.js';
import { Engine } from '../engine/engine.js';
import { ortLibraryCandidates, type OrtCandidate } from '../engine/ort-library.js';
import { readModelConfig } from '../repository/config-file.js';
import { toLoadOptions } from '../repository/load-options.js';
import { uwsStatus, type UwsStatus } from '../server/uws-load.js';
import { detectCpu, type CpuReport } from './cpu-features.js';
import type { AddonChoice } from './flavour.js';
import { detectNvidiaGpus, type GpuReport } from './gpu.js';
import { probeModel } from './probe-model.js';
import { detectLibc } from './target.js';

export interface DoctorRequest {
  /** Providers that must load (from --providers and the repository's model configs): name -> who asked. */
  providers: Map<string, string[]>;
  /** The addon flavour asked for (TENSORGATE_FLAVOUR / --flavour), when not auto. */
  flavour?: 'cpu' | 'cuda';
  /** --http-engine uws: uWebSockets.js must load. */
  uws: boolean;
  redisUrls: string[];
}

export interface Finding {
  ok: boolean;
  /** Something the configuration asked for: when not ok, doctor exits non-zero. */
  required: boolean;
  detail: string;
}

export interface DoctorReport {
  tensorgate: string;
  node: { version: string; abi: string; napi: string; platform: string; libc?: string; glibc?: string };
  addon: Finding & { choice?: AddonChoice; cuda?: NativeCudaStatus };
  ort: Finding & { version?: string; apiVersion?: number; library?: string; candidates: OrtCandidate[] };
  providers: Array<Finding & { name: string; requiredBy: string[] }>;
  cpu: CpuReport;
  gpus: GpuReport;
  uws: Finding & { status: UwsStatus };
  redis: Array<Finding & { url: string; ms?: number }>;
}

/** ORT's provider errors start with its source location and error code: keep what a person reads. */
export function shortOrtReason(reason: string): string {
  return reason.replace(/^[\s\S]*?\[ONNXRuntimeError\] : \d+ : \w+ : /, '').trim();
}

/** The GPU providers doctor always tries, and any others a configuration names. */
export const GPU_PROVIDERS = ['cuda', 'tensorrt'];

/** Models in a repository that ask for GPU providers (instance_group KIND_GPU, gpu_execution_accelerator). */
export function providersRequestedBy(repository: string): { providers: Map<string, string[]>; errors: string[] } {
  const providers = new Map<string, string[]>();
  const errors: string[] = [];
  for (const name of readdirSync(repository).sort()) {
    if (name.startsWith('.') || !statSync(join(repository, name)).isDirectory()) continue;
    try {
      const { config } = readModelConfig(repository, join(repository, name), name);
      for (const p of toLoadOptions(config, 0).executionProviders ?? []) {
        const id = typeof p === 'string' ? p : p.name;
        if (id === 'cpu') continue;
        providers.set(id, [...(providers.get(id) ?? []), `model '${name}'`]);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { providers, errors };
}

async function pingRedis(url: string): Promise<Finding & { url: string; ms?: number }> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err)); // the socket's own error says more than connect()'s
  const started = performance.now();
  try {
    await client.connect();
    await client.ping();
    const ms = Math.round((performance.now() - started) * 10) / 10;
    return { url, ok: true, required: true, ms, detail: `PING answered in ${ms} ms` };
  } catch (err) {
    return { url, ok: false, required: true, detail: (cause ?? (err as Error)).message };
  } finally {
    client.disconnect();
  }
}

export async function diagnose(request: DoctorRequest, version: string): Promise<DoctorReport> {
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  const libc = detectLibc();
  const node = {
    version: process.versions.node,
    abi: process.versions.modules,
    napi: process.versions.napi ?? '?',
    platform: `${process.platform}-${process.arch}`,
    ...(libc ? { libc } : {}),
    ...(glibc ? { glibc } : {}),
  };

  let addon: DoctorReport['addon'];
  let engine: Engine | undefined;
  let ort: DoctorReport['ort'] = { ok: false, required: true, detail: 'not loaded', candidates: ortLibraryCandidates() };
  try {
    const binding = nativeBinding();
    const choice = addonChoice()!;
    const cuda = binding.cudaStatus();
    const wrongFlavour = request.flavour !== undefined && request.flavour !== choice.flavour;
    addon = {
      ok: !wrongFlavour,
      required: true,
      detail: wrongFlavour ? `the ${request.flavour} flavour was asked for, but ${choice.flavour} loaded (${choice.reason})` : choice.reason,
      choice,
      cuda,
    };
    try {
      engine = Engine.create({ logger: { warn: () => {} } });
      ort = { ...ort, ok: true, detail: `${engine.runtime.ortVersion} (C API ${engine.runtime.apiVersion})`, version: engine.runtime.ortVersion, apiVersion: engine.runtime.apiVersion, library: engine.runtime.library };
    } catch (err) {
      ort = { ...ort, detail: (err as Error).message };
    }
  } catch (err) {
    addon = { ok: false, required: true, detail: (err as Error).message };
  }

  const names = [...new Set([...GPU_PROVIDERS, ...request.providers.keys()])];
  const providers: DoctorReport['providers'] = [];
  for (const name of names) {
    const requiredBy = request.providers.get(name) ?? [];
    const required = requiredBy.length > 0;
    if (!engine) {
      providers.push({ name, ok: false, required, requiredBy, detail: 'ONNX Runtime did not load' });
      continue;
    }
    try {
      const model = await engine.load(probeModel(), { executionProviders: [name, 'cpu'], maxBatchSize: 0 });
      const status = model.metadata.providers.find((p) => p.name === name);
      await model.unload();
      providers.push({ name, ok: status?.active === true, required, requiredBy, detail: status?.active ? 'loads' : shortOrtReason(status?.reason ?? 'not active') });
    } catch (err) {
      providers.push({ name, ok: false, required, requiredBy, detail: (err as Error).message });
    }
  }

  const uwsNow = uwsStatus();
  const uws = {
    ok: uwsNow.ok,
    required: request.uws,
    status: uwsNow,
    detail: uwsNow.ok ? `loads (${uwsNow.version}); --http-engine auto serves with it` : `${uwsNow.reason}; --http-engine auto serves with node:http`,
  };
  const redis = await Promise.all(request.redisUrls.map(pingRedis));
  return { tensorgate: version, node, addon, ort, providers, cpu: detectCpu(), gpus: detectNvidiaGpus(), uws, redis };
}

/** Whether everything the configuration asked for is there. */
export function satisfied(report: DoctorReport): boolean {
  const findings: Finding[] = [report.addon, report.ort, ...report.providers, report.uws, ...report.redis];
  return findings.every((f) => f.ok || !f.required);
}
