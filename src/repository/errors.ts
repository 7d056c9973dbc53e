// Errors of the model repository, with a code the HTTP layer maps to a status.
export type RepositoryErrorCode =
  | 'NOT_FOUND' // no such model or version (404)
  | 'INVALID' // bad name, bad config, operation not allowed in this control mode (400)
  | 'UNAVAILABLE' // loading, failed, over the memory budget, shutting down (503)
  | 'LOAD_FAILED'; // the model could not be loaded (400 on the load API)

export class RepositoryError extends Error {
  readonly code: RepositoryErrorCode;
  constructor(code: RepositoryErrorCode, message: string) {
    super(message);
    this.name = 'RepositoryError';
    this.code = code;
  }
}
