// Model names and where they live. A name can never resolve outside the repository: it must match
// [A-Za-z0-9_.-]+, must not be '.' or '..', and its directory's real path (symlinks resolved) must
// stay under the repository's real path.
import { realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { RepositoryError } from './errors.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

export function checkModelName(name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new RepositoryError('INVALID', `invalid model name '${name}': use letters, digits, '_', '.' and '-'`);
  }
}

/** The model's directory, or null when it does not exist. Throws INVALID when it escapes the repository. */
export function modelDir(root: string, name: string): string | null {
  checkModelName(name);
  let real: string;
  try {
    real = realpathSync(join(root, name));
  } catch {
    return null;
  }
  const base = realpathSync(root);
  if (real !== base && !real.startsWith(base + sep)) {
    throw new RepositoryError('INVALID', `model '${name}' resolves outside the model repository`);
  }
  return real;
}
