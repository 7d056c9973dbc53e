// Publishing an optimized model as a new version of a repository model, so the server serves it the
// normal way (poll mode picks it up; explicit mode loads it on request). The version directory is
// assembled under a hidden temporary name and renamed into place: a repository scan never sees half
// of it. Before anything is written, the model's inputs and outputs are checked against the datatypes
// the model's config declares, since a mismatch would only fail later, at load.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FROM_TRITON_TYPE } from '../engine/datatype.js';
import type { TensorMetadata } from '../engine/tensor.js';
import { readModelConfig } from '../repository/config-file.js';
import type { ModelConfig } from '../repository/config-schema.js';
import { checkModelName } from '../repository/paths.js';
import { servedVersions, versionsOnDisk } from '../repository/versions.js';

export interface PublishRequest {
  repository: string;
  model: string;
  /** Default: one above the highest version on disk. */
  version?: number;
  /** The model file, then any external data files beside it (kept under their own names). */
  files: readonly string[];
  /** The new model's signature, checked against the config's declared datatypes. */
  inputs: readonly TensorMetadata[];
  outputs: readonly TensorMetadata[];
}

export interface Published {
  version: number;
  dir: string;
  /** What the config's version_policy will serve once the repository rescans, and what to do for a canary. */
  advice: string;
}

/** The model's config (defaults when it has none), for load options and checks. */
export function repositoryConfig(repository: string, model: string): ModelConfig {
  checkModelName(model);
  return readModelConfig(repository, join(repository, model), model).config;
}

export async function publishVersion(request: PublishRequest): Promise<Published> {
  const { repository, model } = request;
  const config = repositoryConfig(repository, model);
  checkSignature(config, request.inputs, 'input');
  checkSignature(config, request.outputs, 'output');
  const modelDir = join(repository, model);
  const fileName = config.default_model_filename ?? 'model.onnx';
  const existing = versionsOnDisk(modelDir, undefined).map((v) => v.version);
  const version = request.version ?? Math.max(0, ...existing) + 1;
  if (!Number.isSafeInteger(version) || version < 1) throw new Error(`--version ${version}: a version is a positive integer`);
  if (existing.includes(version)) throw new Error(`${join(model, String(version))} exists already: pick another --version (or none for ${Math.max(...existing) + 1})`);

  await mkdir(modelDir, { recursive: true });
  const temp = join(modelDir, `.tensorgate-${process.pid}-${randomBytes(4).toString('hex')}`);
  const dir = join(modelDir, String(version));
  try {
    await mkdir(temp);
    const [main, ...extra] = request.files;
    await copyFile(main!, join(temp, fileName));
    for (const f of extra) await copyFile(f, join(temp, basename(f)));
    await rename(temp, dir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return { version, dir, advice: advice(config, [...existing, version], version, model) };
}

function checkSignature(config: ModelConfig, actual: readonly TensorMetadata[], role: 'input' | 'output'): void {
  for (const declared of config[role] ?? []) {
    const t = actual.find((a) => a.name === declared.name);
    if (!t) continue; // the server's own load check reports missing tensors with its usual message
    const want = FROM_TRITON_TYPE[declared.data_type];
    if (want !== t.datatype) {
      throw new Error(
        `the model's config declares ${role} '${declared.name}' as ${declared.data_type}, but the new model's is ${t.datatype}` +
          (t.datatype === 'FP16' || want === 'FP16' ? ' (convert-fp16 --keep-io-types keeps FP32 inputs and outputs)' : ''),
      );
    }
  }
}

function advice(config: ModelConfig, versions: number[], version: number, model: string): string {
  const served = servedVersions(versions, config.version_policy);
  const others = versions.filter((v) => v !== version).sort((a, b) => b - a);
  if (!served.includes(version)) return `version_policy does not serve version ${version}: add it to version_policy in ${model}'s config`;
  if (others.length === 0) return `version ${version} is the model's only version`;
  const previous = others[0]!;
  if (served.includes(previous)) return `versions ${served.join(', ')} are served side by side: route traffic between ${previous} and ${version} (e.g. a canary)`;
  return (
    `with version_policy ${JSON.stringify(config.version_policy ?? { latest: { num_versions: 1 } })}, version ${version} replaces ${previous} at the next load; ` +
    `to canary it against ${previous}, set "version_policy": {"specific": {"versions": [${previous}, ${version}]}}`
  );
}
