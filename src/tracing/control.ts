// Tracing's control: the server's and each model's settings (Triton's trace extension), which requests
// are traced, and where their spans go. Sampling is Triton's: every rate-th request of a settings
// scope (the server's, or a model's when it overrides rate or count), while `count` lasts; a request
// whose caller's traceparent is sampled is always traced (unless the level is OFF). `active` is false
// while every level is OFF: the request path then pays one branch and nothing else.
import type { RequestContext, SampledTrace } from '../inference/context.js';
import { errorKind, errorMessage, httpStatusFor, ProtocolError } from '../protocol/errors.js';
import type { ExportCounts, SpanSink } from './otlp.js';
import { parsePatch, toWire, type TraceConfig, type TraceSettings, type TraceSettingsPatch, type TraceSettingsWire } from './settings.js';
import { requestSpans } from './spans.js';
import { newSpanId, newTraceId, parseTraceparent } from './traceparent.js';
import { nowNs } from '../inference/context.js';

/** A settings scope's sampling state. */
interface Scope {
  seen: number;
  remaining: number;
}

export interface TraceControlOptions {
  config: TraceConfig;
  /** Creates the exporter the first time a level turns TIMESTAMPS (at start, or by the API). */
  sink: () => Promise<SpanSink>;
}

export class TraceControl {
  /** True when some level is TIMESTAMPS and the exporter is ready. */
  active = false;
  readonly counts: ExportCounts = { exported: 0, failed: 0 };
  /** Requests traced (by rate, and continued from a sampled caller). */
  traced = 0;
  readonly #startup: TraceSettings;
  #server: TraceSettings;
  readonly #serverScope: Scope;
  readonly #models = new Map<string, { patch: Partial<TraceSettings>; scope: Scope | undefined }>();
  readonly #makeSink: () => Promise<SpanSink>;
  #sink: SpanSink | undefined;
  #sinkLoading: Promise<SpanSink> | undefined;
  readonly #listeners: Array<() => void> = [];

  constructor(options: TraceControlOptions) {
    this.#startup = { ...options.config.trace };
    this.#server = { ...options.config.trace };
    this.#serverScope = { seen: 0, remaining: this.#server.count };
    this.#makeSink = options.sink;
  }

  /** Loads the exporter when the startup level traces. */
  async start(): Promise<void> {
    await this.#refresh();
  }

  /** The settings a model's requests follow (the server's when `model` is undefined), in wire form. */
  settings(model?: string): TraceSettingsWire {
    return toWire(this.#effective(model));
  }

  /** Whether requests to `model` may be traced now (its level is TIMESTAMPS and tracing is active). */
  tracing(model: string): boolean {
    return this.active && (this.#models.get(model)?.patch.level ?? this.#server.level) !== 'OFF';
  }

  /** Calls `listener` after every settings change (the HTTP threads follow which models are traced). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Applies a POST body; throws INVALID_ARGUMENT (a 400) for anything it refuses. */
  async update(model: string | undefined, body: Record<string, unknown>): Promise<TraceSettingsWire> {
    let patch: TraceSettingsPatch;
    try {
      patch = parsePatch(body);
    } catch (err) {
      throw new ProtocolError('INVALID_ARGUMENT', (err as Error).message);
    }
    if (model === undefined) {
      const next = { ...this.#server };
      for (const key of ['level', 'rate', 'count'] as const) {
        const v = patch[key];
        if (v === null) (next as Record<string, unknown>)[key] = this.#startup[key];
        else if (v !== undefined) (next as Record<string, unknown>)[key] = v;
      }
      this.#server = next;
      if (patch.rate !== undefined || patch.count !== undefined) {
        this.#serverScope.seen = 0;
        this.#serverScope.remaining = next.count;
      }
    } else {
      const entry = this.#models.get(model) ?? { patch: {}, scope: undefined };
      for (const key of ['level', 'rate', 'count'] as const) {
        const v = patch[key];
        if (v === null) delete entry.patch[key];
        else if (v !== undefined) (entry.patch as Record<string, unknown>)[key] = v;
      }
      const own = entry.patch.rate !== undefined || entry.patch.count !== undefined;
      if (!own) entry.scope = undefined;
      else if (patch.rate !== undefined || patch.count !== undefined || entry.scope === undefined) {
        entry.scope = { seen: 0, remaining: entry.patch.count ?? this.#server.count };
      }
      if (Object.keys(entry.patch).length === 0) this.#models.delete(model);
      else this.#models.set(model, entry);
    }
    await this.#refresh();
    for (const listener of this.#listeners) listener();
    return this.settings(model);
  }

  /**
   * Whether to trace this request (called only while `active`): its trace, or undefined. A caller's
   * valid traceparent is continued (same trace id, the caller's span as parent) whenever it is traced.
   */
  sample(ctx: RequestContext): SampledTrace | undefined {
    const model = this.#models.get(ctx.model);
    const level = model?.patch.level ?? this.#server.level;
    if (level === 'OFF') return undefined;
    const incoming = ctx.trace;
    const parent = incoming !== undefined ? parseTraceparent(incoming.traceparent, incoming.tracestate) : undefined;
    if (parent === undefined || !parent.sampled) {
      const rate = model?.patch.rate ?? this.#server.rate;
      if (rate === 0) return undefined;
      const scope = model?.scope ?? this.#serverScope;
      if (++scope.seen % rate !== 0) return undefined;
      if (scope.remaining === 0) return undefined;
      if (scope.remaining > 0) scope.remaining--;
    }
    this.traced++;
    return {
      traceId: parent?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      parentSpanId: parent?.spanId,
      tracestate: parent?.tracestate,
      steps: undefined,
    };
  }

  /** Exports a traced request's spans once it is over (`error`: how it failed). */
  record(ctx: RequestContext, traced: SampledTrace, error: unknown): void {
    const sink = this.#sink;
    if (sink === undefined) return;
    const failed = error !== undefined;
    const spans = requestSpans(ctx, traced, nowNs(), {
      status: failed ? httpStatusFor(error) : 200,
      errorType: failed ? errorKind(error) : undefined,
      message: failed ? errorMessage(error) : undefined,
    });
    sink.export(traced.traceId, traced.tracestate, spans);
  }

  /** Exports what is queued now. A failed export is counted (and logged) by the sink, not thrown. */
  async flush(): Promise<void> {
    await this.#sink?.forceFlush().catch(() => undefined);
  }

  /** Stops tracing and exports what is queued (failures counted, not thrown: shutdown goes on). */
  async shutdown(): Promise<void> {
    this.active = false;
    await this.#sink?.shutdown().catch(() => undefined);
  }

  #effective(model: string | undefined): TraceSettings {
    const patch = model === undefined ? undefined : this.#models.get(model)?.patch;
    const s = { ...this.#server, ...patch };
    const scope = model === undefined ? this.#serverScope : (this.#models.get(model)?.scope ?? this.#serverScope);
    return { ...s, count: s.count < 0 ? -1 : scope.remaining };
  }

  async #refresh(): Promise<void> {
    const wanted = this.#server.level !== 'OFF' || [...this.#models.values()].some((m) => m.patch.level === 'TIMESTAMPS');
    if (wanted && this.#sink === undefined) {
      this.#sinkLoading ??= this.#makeSink();
      this.#sink = await this.#sinkLoading;
    }
    this.active = wanted;
  }
}
