// Version directories (<model>/<integer>/) and Triton's version_policy: which of them are served.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { VersionPolicy } from './config-schema.js';

export interface VersionOnDisk {
  version: number;
  /** The version directory. */
  dir: string;
  /** The model file, for backends that have one. */
  path: string | undefined;
  /** Changes when the version's files change (size and mtime of every file in the directory). */
  fingerprint: string;
  sizeBytes: number;
  /** Not a directory of its own: a versionless backend's version 1 (its files are not hashed). */
  virtual?: boolean;
}

/** The version directories of a model; with `modelFiles`, only those holding one of them (the first present wins). */
export function versionsOnDisk(dir: string, modelFiles: readonly string[] | undefined): VersionOnDisk[] {
  const out: VersionOnDisk[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const versionDir = join(dir, entry);
    let files: string[];
    try {
      if (!statSync(versionDir).isDirectory()) continue;
      files = readdirSync(versionDir).sort();
    } catch {
      continue;
    }
    const modelFile = modelFiles?.find((f) => files.includes(f));
    if (modelFiles !== undefined && modelFile === undefined) continue;
    // Weights may live in external-data files next to the model: they count for size and changes.
    let size = 0;
    const parts: string[] = [];
    for (const f of files) {
      try {
        const st = statSync(join(versionDir, f));
        if (!st.isFile()) continue;
        size += st.size;
        parts.push(`${f}:${st.size}:${st.mtimeMs}`);
      } catch {
        // raced with a writer: the next poll sees it
      }
    }
    out.push({ version: Number(entry), dir: versionDir, path: modelFile === undefined ? undefined : join(versionDir, modelFile), fingerprint: parts.join('|'), sizeBytes: size });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** The versions to serve, highest first. Default policy: latest { num_versions: 1 }. */
export function servedVersions(available: number[], policy: VersionPolicy | undefined): number[] {
  const sorted = [...available].sort((a, b) => b - a);
  if (!policy || 'latest' in policy) return sorted.slice(0, policy ? policy.latest.num_versions : 1);
  if ('all' in policy) return sorted;
  const wanted = new Set(policy.specific.versions);
  return sorted.filter((v) => wanted.has(v));
}
