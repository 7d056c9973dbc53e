// The model repository: Triton's layout and control modes, versions, swaps and on-demand loading.
export { ModelRepository, type ControlMode, type IndexEntry, type RepositoryHooks, type RepositoryLogger, type RepositoryOptions, type ServedVersion, type VersionState } from './repository.js';
export { RepositoryError, type RepositoryErrorCode } from './errors.js';
export { parseModelConfig } from './config-file.js';
export type { ModelConfig } from './config-schema.js';
