// The messages between the main thread and the HTTP worker threads (--http-threads), all structured-
// clone safe. The main thread keeps everything that is the process's (repository, routes, cache,
// tracing, monitors, metrics exposition, control plane); a worker serves the plain models itself
// (ONNX versions without a response cache, monitoring or tracing) through the shared native models,
// and hands every other request to the main thread whole.
import type { AdmissionOptions } from '../../inference/admission.js';
import type { DecodeLimits } from '../../protocol/limits.js';
import type { ModelConfig } from '../../repository/index.js';
import type { TransportLimits } from '../transport.js';
import type { ThreadMetricsSnapshot } from '../../metrics/index.js';

/** What a worker needs to start. */
export interface WorkerSetup {
  /** This HTTP thread's number (1..N-1; the main thread is 0). */
  thread: number;
  host: string;
  port: number;
  maxBodyBytes: number;
  logLevel: string;
  /** The main thread's engine polling window, which a worker's engine repeats. */
  eventLoopSpinMicroseconds: number;
  /** Bounds of the per-model latency histogram (seconds). */
  latencyBuckets: number[];
  /** The transport's timeouts and lingering (the main thread's). */
  transportLimits: Omit<TransportLimits, 'maxBodyBytes'>;
  /** The process's body budget: its limit and the shared count (body-budget.ts). */
  bodyBudget: { limit: number; memory: SharedArrayBuffer };
  /** What one request may make the server hold (the main thread's). */
  decodeLimits: DecodeLimits;
  /**
   * Admission (the main thread's settings); each copy's counts are shared by every thread
   * (PublishedVersion.admission).
   */
  admission: AdmissionOptions;
  /** The module to run under tsx when the server runs from TypeScript sources (tests); absent from dist/. */
  tsEntry?: string | undefined;
}

/** A served version a worker may answer requests for: what its stages need, and the native model's handle. */
export interface PublishedVersion {
  generation: number;
  name: string;
  version: number;
  versionLabel: string;
  /** The engine model's process-wide handle (Engine.attach). */
  handle: number;
  key: string;
  outputOrder: string[];
  platform: string;
  config: ModelConfig;
  effectiveConfig: Record<string, unknown>;
  contentHash: string;
  sizeBytes: number;
  /** The copy's admission counts, shared with the main thread (src/inference/admission.ts). */
  admission: SharedArrayBuffer;
}

export interface WireRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface WireResponse {
  status: number;
  headers?: Record<string, string> | undefined;
  body?: Uint8Array | string | undefined;
  close?: boolean | undefined;
}

export type ToWorker =
  /** The versions a worker serves from now on, and the latest of each model (name -> generation). */
  | { type: 'table'; epoch: number; versions: PublishedVersion[]; latest: Array<[string, number]> }
  | { type: 'response'; id: number; response: WireResponse }
  | { type: 'metrics'; id: number }
  /** Shutdown began: what the worker would serve goes to the main thread (which answers 503). */
  | { type: 'drain' }
  | { type: 'stop-accepting' }
  | { type: 'wait-drained'; id: number; timeoutMs: number }
  | { type: 'close'; timeoutMs: number };

export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'request'; id: number; request: WireRequest }
  | { type: 'abort'; id: number }
  /** Every request the worker leased this version for (since the table of `epoch` dropped it) is over. */
  | { type: 'released'; generation: number; epoch: number }
  | { type: 'metrics'; id: number; snapshot: ThreadMetricsSnapshot }
  | { type: 'drained'; id: number; drained: boolean }
  /** The thread is done: its final counts (kept in the process's sums). */
  | { type: 'closed'; snapshot?: ThreadMetricsSnapshot };
