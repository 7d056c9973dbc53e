// Reads <model>/config.json or config.yaml and validates it. Errors name the file, the field and what
// was expected.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { modelConfigSchema, type ModelConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';

export const CONFIG_FILES = ['config.json', 'config.yaml', 'config.yml'] as const;

export interface LoadedConfig {
  config: ModelConfig;
  /** The file it came from (relative to the repository), or null when the model has none. */
  file: string | null;
  /** Hash of the file's bytes, to notice changes. */
  fingerprint: string;
}

export function formatIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(root)';
      return `${where}: ${path}: ${issue.message}`;
    })
    .join('; ');
}

export function parseModelConfig(raw: unknown, where: string, name: string): ModelConfig {
  const result = modelConfigSchema.safeParse(raw ?? {});
  if (!result.success) throw new RepositoryError('INVALID', formatIssues(where, result.error));
  const config = result.data;
  if (config.name !== undefined && config.name !== name) {
    throw new RepositoryError('INVALID', `${where}: name: '${config.name}' differs from the model directory '${name}'`);
  }
  return config;
}

export function readModelConfig(root: string, dir: string, name: string): LoadedConfig {
  for (const file of CONFIG_FILES) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    const where = relative(root, path) || path;
    const bytes = readFileSync(path);
    let raw: unknown;
    try {
      raw = file.endsWith('.json') ? JSON.parse(bytes.toString('utf8')) : parseYaml(bytes.toString('utf8'));
    } catch (err) {
      throw new RepositoryError('INVALID', `${where}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
    }
    return { config: parseModelConfig(raw, where, name), file: where, fingerprint: createHash('sha1').update(bytes).digest('hex') };
  }
  return { config: parseModelConfig({}, name, name), file: null, fingerprint: 'none' };
}
