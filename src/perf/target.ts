// What the load generator talks to, whatever the protocol: the model's metadata, the server's
// statistics for it, and connections that send one request at a time.
import type { ModelInfo, Payload } from './inputs.js';

/** The server's cumulative counters for the model (Triton's statistics extension), ns and counts. */
export interface ServerCounters {
  /** Successful requests and their total time in the server. */
  success: number;
  successNs: number;
  queueNs: number;
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
  /** Rows inferred, and model executions (batches). */
  inferences: number;
  executions: number;
}

export interface Outcome {
  ok: boolean;
  /** The server's message (or the transport error) when not ok. */
  error?: string;
}

/** One connection (HTTP) or call slot (gRPC): one request outstanding at a time. */
export interface Sender {
  /** False once its connection failed (the load opens another). */
  readonly alive: boolean;
  send(payload: Payload): Promise<Outcome>;
  close(): void;
}

export interface Target {
  readonly protocol: 'http' | 'grpc';
  info(): Promise<ModelInfo>;
  /** Undefined when the server does not report statistics for the model. */
  counters(): Promise<ServerCounters | undefined>;
  sender(): Promise<Sender>;
  close(): Promise<void>;
}

/** Sums the statistics entries of a Triton statistics response (every version, or the one asked for). */
export function countersOf(stats: Array<Record<string, unknown>>): ServerCounters | undefined {
  if (stats.length === 0) return undefined;
  const n = (v: unknown) => Number(v ?? 0);
  const out: ServerCounters = { success: 0, successNs: 0, queueNs: 0, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0, inferences: 0, executions: 0 };
  for (const s of stats) {
    const i = (s.inference_stats ?? {}) as Record<string, { count?: unknown; ns?: unknown }>;
    out.success += n(i.success?.count);
    out.successNs += n(i.success?.ns);
    out.queueNs += n(i.queue?.ns);
    out.computeInputNs += n(i.compute_input?.ns);
    out.computeInferNs += n(i.compute_infer?.ns);
    out.computeOutputNs += n(i.compute_output?.ns);
    out.inferences += n(s.inference_count);
    out.executions += n(s.execution_count);
  }
  return out;
}
