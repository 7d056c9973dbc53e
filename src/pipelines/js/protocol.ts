// The messages between the main thread and a JavaScript model's worker threads. A piscina task runs
// one execute (a batch of requests); everything else travels on a MessagePort each worker opens at
// start and hands over in its hello: readiness, calls to other models and their answers, the model
// directory, cancellations, finalize.
import type { MessagePort } from 'node:worker_threads';
import type { CallTrace } from '../../repository/backend.js';
import type { WireError } from '../errors.js';
import type { WireTensors } from '../tensors.js';

/** workerData of every worker of a version. */
export interface WorkerSetup {
  /** The model file (model.js / model.mjs) to import. */
  file: string;
  name: string;
  version: number;
  /** The version directory. */
  dir: string;
  /** The model's config, in Triton's JSON form (as given to initialize). */
  config: Record<string, unknown>;
  maxBatchSize: number;
}

/** Posted on parentPort first thing, with the worker's end of its channel. */
export interface HelloMessage {
  kind: 'tensorgate:hello';
  threadId: number;
  port: MessagePort;
}

/** Which native model handles serve a model name: its latest version and each served version. */
export interface DirectoryEntry {
  latest: number | undefined;
  versions: Array<[string, number]>;
}

export interface CallRequest {
  kind: 'call';
  id: number;
  /** The task the calling execute runs in (deadlock detection). */
  task: number;
  model: string;
  version: string | undefined;
  inputs: WireTensors;
  outputs: string[] | undefined;
  /** What is left of the caller's deadline, µs (0: none). */
  timeoutUs: number;
  priority: number;
  trace: CallTrace | undefined;
  chain: string[];
  parameters: Record<string, unknown> | undefined;
}

export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | CallRequest
  | { kind: 'cancel'; id: number }
  | { kind: 'finalized'; error: string | undefined };

export type ToWorker =
  | { kind: 'models'; models: Array<[string, DirectoryEntry | null]> }
  | { kind: 'reply'; id: number; outputs: WireTensors | undefined; error: WireError | undefined }
  | { kind: 'abort'; task: number; index: number; reason: WireError }
  | { kind: 'finalize' };

/** One request of a task, as the worker receives it. */
export interface WireRequest {
  inputs: WireTensors;
  /** Outputs the caller asked for; undefined: all. */
  outputs: string[] | undefined;
  parameters: Record<string, unknown> | undefined;
  id: string | undefined;
  priority: number;
  /** What is left of its deadline when the task was sent, µs (0: none). */
  remainingUs: number;
  trace: CallTrace | undefined;
  /** The models this request passed through, this one last. */
  chain: string[];
}

export interface TaskMessage {
  task: number;
  requests: WireRequest[];
}

export type WireResponse = { outputs: WireTensors; error?: undefined } | { outputs?: undefined; error: WireError };

export interface TaskResult {
  /** The execute's own duration, measured in the worker. */
  executeNs: number;
  /** One per request, unless the whole execute failed. */
  responses: WireResponse[] | undefined;
  error: WireError | undefined;
}
