// A JavaScript model worker's channel as the pool sees it, and the set of workers one piscina instance
// runs (a generation: a pool that cannot start workers any more is replaced by a fresh one).
import type { MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { ToWorker } from './protocol.js';

/** Where piscina ran a task (set by our load balancer; -1 until placed). */
export interface Placement {
  threadId: number;
}

/** A worker's channel. 'dead': its task failed with it, its channel has not closed yet. */
export class WorkerLink {
  state: 'starting' | 'ready' | 'dead' | 'closed' = 'starting';
  /** The worker said why it failed to start. */
  failure: string | undefined;
  readonly calls = new Map<number, AbortController>();
  finalized: ((error: string | undefined) => void) | undefined;
  constructor(
    readonly port: MessagePort,
    readonly threadId: number,
    readonly generation: Generation,
  ) {}

  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.state !== 'closed') this.port.postMessage(message, transfer);
  }
}

/** One piscina instance and its workers. */
export class Generation {
  readonly links = new Set<WorkerLink>();
  readonly byThread = new Map<number, WorkerLink>();
  ready = 0;
  /** Tasks dispatched to it and not finished. */
  running = 0;
  startFailures = 0;
  lastFailure: string | undefined;
  /** Called on every change of readiness (start-up waits on it). */
  changed: (() => void) | undefined;
  piscina!: Piscina;
}
