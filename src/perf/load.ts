// The load of one step: a closed loop (N requests always outstanding, each sent as soon as the
// previous one on its connection is answered) or an open loop (requests sent on a schedule, constant
// or Poisson, on whichever connection is free, whether earlier ones were answered or not). The load
// runs for the whole step; window() collects what completed in a stretch of it.
import type { Payload } from './inputs.js';
import { seededRandom } from '../onnx/sample-data.js';
import type { Outcome, Sender, Target } from './target.js';

export interface WindowResult {
  elapsedMs: number;
  /** Latencies (µs) of the requests answered in the window, sorted; errors are not in it. */
  latenciesUs: Float64Array;
  errors: number;
  firstError: string | undefined;
  /** Open loop: how late sends went out against their schedule (µs, sorted), e.g. no free connection. */
  sendDelaysUs: Float64Array | undefined;
  /** Client CPU time (user + system) spent in the window, µs. */
  cpuUs: number;
}

class Recorder {
  #lat = new Float64Array(1 << 14);
  #n = 0;
  #delays: Float64Array | undefined;
  #nd = 0;
  errors = 0;
  firstError: string | undefined;

  constructor(delays: boolean) {
    if (delays) this.#delays = new Float64Array(1 << 14);
  }

  record(us: number, outcome: Outcome): void {
    if (!outcome.ok) {
      this.errors++;
      this.firstError ??= outcome.error;
      return;
    }
    if (this.#n === this.#lat.length) {
      const grown = new Float64Array(this.#lat.length * 2);
      grown.set(this.#lat);
      this.#lat = grown;
    }
    this.#lat[this.#n++] = us;
  }

  delay(us: number): void {
    let d = this.#delays!;
    if (this.#nd === d.length) {
      const grown = new Float64Array(d.length * 2);
      grown.set(d);
      this.#delays = d = grown;
    }
    d[this.#nd++] = us;
  }

  get count(): number {
    return this.#n;
  }

  take(): { latencies: Float64Array; delays: Float64Array | undefined } {
    const latencies = this.#lat.slice(0, this.#n).sort();
    const delays = this.#delays?.slice(0, this.#nd).sort();
    this.#n = 0;
    this.#nd = 0;
    this.errors = 0;
    this.firstError = undefined;
    return { latencies, delays };
  }
}

export abstract class Load {
  protected running = false;
  protected readonly recorder: Recorder;
  protected readonly payloads: readonly Payload[];
  protected next = 0;
  #start = 0;
  #cpu = process.cpuUsage();

  constructor(
    protected readonly target: Target,
    payloads: readonly Payload[],
    openLoop: boolean,
  ) {
    this.payloads = payloads;
    this.recorder = new Recorder(openLoop);
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  protected payload(): Payload {
    const p = this.payloads[this.next];
    this.next = (this.next + 1) % this.payloads.length;
    return p!;
  }

  /** Answers counted so far in the current window. */
  get completed(): number {
    return this.recorder.count;
  }

  /** Starts a window: what completes from now on counts. */
  begin(): void {
    this.recorder.take();
    this.#start = performance.now();
    this.#cpu = process.cpuUsage();
  }

  /** Ends the window begun last. */
  end(): WindowResult {
    const elapsedMs = performance.now() - this.#start;
    const cpu = process.cpuUsage(this.#cpu);
    const errors = this.recorder.errors;
    const firstError = this.recorder.firstError;
    const { latencies, delays } = this.recorder.take();
    return { elapsedMs, latenciesUs: latencies, errors, firstError, sendDelaysUs: delays, cpuUs: cpu.user + cpu.system };
  }
}

/** A sender that reconnects after its connection failed (the failure itself is counted). */
async function resilient(target: Target, sender: Sender, send: (s: Sender) => Promise<Outcome>, running: () => boolean): Promise<[Sender, Outcome]> {
  const outcome = await send(sender);
  if (outcome.ok || sender.alive || !running()) return [sender, outcome];
  try {
    sender.close();
    return [await target.sender(), outcome];
  } catch {
    await new Promise((r) => setTimeout(r, 100)); // the server is gone: do not spin on connect errors
    return [sender, outcome];
  }
}

export class ClosedLoop extends Load {
  readonly #concurrency: number;
  #workers: Array<Promise<void>> = [];

  constructor(target: Target, payloads: readonly Payload[], concurrency: number) {
    super(target, payloads, false);
    this.#concurrency = concurrency;
  }

  async start(): Promise<void> {
    const senders = await Promise.all(Array.from({ length: this.#concurrency }, () => this.target.sender()));
    this.running = true;
    this.#workers = senders.map((s) => this.#run(s));
  }

  async #run(sender: Sender): Promise<void> {
    let s = sender;
    while (this.running) {
      const payload = this.payload();
      const t0 = performance.now();
      const [next, outcome] = await resilient(this.target, s, (x) => x.send(payload), () => this.running);
      this.recorder.record((performance.now() - t0) * 1000, outcome);
      s = next;
    }
    s.close();
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.#workers);
  }
}

export class OpenLoop extends Load {
  readonly #rate: number;
  readonly #poisson: boolean;
  readonly #uniform: () => number;
  readonly #maxConnections: number;
  readonly #idle: Sender[] = [];
  /** Scheduled times (performance.now() ms) of arrivals waiting for a connection. */
  readonly #backlog: number[] = [];
  #connections = 0;
  #connecting = 0;
  #nextAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #inflight = 0;
  #drained: (() => void) | undefined;

  constructor(target: Target, payloads: readonly Payload[], rate: number, distribution: 'constant' | 'poisson', seed: number, maxConnections: number) {
    super(target, payloads, true);
    this.#rate = rate;
    this.#poisson = distribution === 'poisson';
    this.#uniform = seededRandom(seed);
    this.#maxConnections = maxConnections;
  }

  async start(): Promise<void> {
    const initial = Math.min(this.#maxConnections, Math.max(1, Math.ceil(this.#rate / 1000)));
    const senders = await Promise.all(Array.from({ length: initial }, () => this.target.sender()));
    this.#idle.push(...senders);
    this.#connections = senders.length;
    this.running = true;
    this.#nextAt = performance.now();
    this.#pump();
  }

  /** Milliseconds to the next arrival. */
  #gap(): number {
    const mean = 1000 / this.#rate;
    return this.#poisson ? -Math.log(1 - this.#uniform()) * mean : mean;
  }

  #pump(): void {
    if (!this.running) return;
    const now = performance.now();
    while (this.#nextAt <= now) {
      this.#arrive(this.#nextAt);
      this.#nextAt += this.#gap();
    }
    this.#timer = setTimeout(() => this.#pump(), Math.max(0, this.#nextAt - performance.now()));
  }

  #arrive(scheduled: number): void {
    const sender = this.#idle.pop();
    if (sender) {
      this.#send(sender, scheduled);
      return;
    }
    this.#backlog.push(scheduled);
    if (this.#connections + this.#connecting < this.#maxConnections) {
      this.#connecting++;
      this.target.sender().then(
        (s) => {
          this.#connecting--;
          this.#connections++;
          this.#release(s);
        },
        () => this.#connecting--,
      );
    }
  }

  #send(sender: Sender, scheduled: number): void {
    const payload = this.payload();
    const t0 = performance.now();
    this.recorder.delay((t0 - scheduled) * 1000);
    this.#inflight++;
    void resilient(this.target, sender, (x) => x.send(payload), () => this.running).then(([next, outcome]) => {
      this.recorder.record((performance.now() - t0) * 1000, outcome);
      this.#inflight--;
      this.#release(next);
    });
  }

  #release(sender: Sender): void {
    const waiting = this.running ? this.#backlog.shift() : undefined;
    if (waiting !== undefined) {
      this.#send(sender, waiting);
      return;
    }
    this.#idle.push(sender);
    if (this.#inflight === 0) this.#drained?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.#timer);
    this.#backlog.length = 0;
    if (this.#inflight > 0) await new Promise<void>((r) => (this.#drained = r));
    for (const s of this.#idle) s.close();
  }
}
