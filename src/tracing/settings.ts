// Trace settings in Triton's forms: the --trace-config flag (`rate=N`, `level=TIMESTAMPS|OFF`,
// `count=N`, `mode=opentelemetry`, and the OpenTelemetry settings `url`, `resource`, `bsp_*`, with or
// without an `opentelemetry,` prefix; several may share one flag, comma-separated) and the trace
// extension's JSON (GET/POST /v2[/models/{m}]/trace/setting: trace_level, trace_rate, trace_count).
// tensorgate exports OpenTelemetry only: Triton's file mode (trace_file, log_frequency, TENSORS) is
// refused with a message, not accepted and ignored.

export type TraceLevel = 'OFF' | 'TIMESTAMPS';

/** What is traced: per server, overridable per model. */
export interface TraceSettings {
  level: TraceLevel;
  /** Trace every rate-th request (0: only requests whose caller's traceparent is sampled). */
  rate: number;
  /** Traces left to take by rate (-1: unlimited); a caller's sampled traceparent does not count. */
  count: number;
}

/** Where spans go: OTLP over HTTP (JSON), batched. */
export interface ExportSettings {
  /** undefined: the exporter's default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else http://localhost:4318/v1/traces). */
  url: string | undefined;
  resource: Record<string, string>;
  bspMaxQueueSize: number;
  bspScheduleDelayMs: number;
  bspMaxExportBatchSize: number;
}

export interface TraceConfig {
  trace: TraceSettings;
  export: ExportSettings;
}

/** Triton's defaults: rate 1000, level OFF, count -1; the batch span processor's 2048 / 5000 ms / 512. */
export function defaultTraceConfig(): TraceConfig {
  return {
    trace: { level: 'OFF', rate: 1000, count: -1 },
    export: { url: undefined, resource: {}, bspMaxQueueSize: 2048, bspScheduleDelayMs: 5000, bspMaxExportBatchSize: 512 },
  };
}

const FILE_MODE = "tensorgate exports traces with OpenTelemetry (OTLP over HTTP) only; Triton's file mode";

function nonNegativeInt(key: string, value: string, min = 0): number {
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new Error(`--trace-config ${key}: expected an integer ≥ ${min}, got '${value}'`);
  }
  return Number(value);
}

function level(key: string, value: string): TraceLevel {
  const v = value.trim().toUpperCase();
  if (v === 'OFF' || v === 'TIMESTAMPS') return v;
  if (v === 'TENSORS') throw new Error(`${key}: TENSORS is not available: ${FILE_MODE} (TENSORS) is not supported`);
  throw new Error(`${key}: expected TIMESTAMPS or OFF, got '${value}'`);
}

/** Parses every --trace-config value (repeatable) into one configuration. Throws naming the setting. */
export function parseTraceConfig(values: readonly string[]): TraceConfig {
  const config = defaultTraceConfig();
  for (const value of values) {
    const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (parts.length === 0) throw new Error('--trace-config: empty setting');
    let mode: string | undefined;
    if (!parts[0]!.includes('=')) mode = parts.shift()!;
    if (mode !== undefined && mode !== 'opentelemetry') {
      throw new Error(`--trace-config ${mode}: ${mode === 'triton' ? `${FILE_MODE} is not supported` : "unknown mode (use 'opentelemetry')"}`);
    }
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new Error(`--trace-config: expected setting=value, got '${part}'`);
      const key = part.slice(0, eq).trim();
      const v = part.slice(eq + 1).trim();
      switch (key) {
        case 'rate':
          config.trace.rate = nonNegativeInt(key, v);
          break;
        case 'count':
          config.trace.count = nonNegativeInt(key, v, -1);
          break;
        case 'level':
          config.trace.level = level('--trace-config level', v);
          break;
        case 'mode':
          if (v !== 'opentelemetry') throw new Error(`--trace-config mode: ${v === 'triton' ? `${FILE_MODE} is not supported` : `unknown mode '${v}'`}`);
          break;
        case 'url':
          config.export.url = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
          try {
            new URL(config.export.url);
          } catch {
            throw new Error(`--trace-config url: not a URL: '${v}'`);
          }
          break;
        case 'resource': {
          const at = v.indexOf('=');
          if (at <= 0) throw new Error(`--trace-config resource: expected key=value, got '${v}'`);
          config.export.resource[v.slice(0, at)] = v.slice(at + 1);
          break;
        }
        case 'bsp_max_queue_size':
          config.export.bspMaxQueueSize = nonNegativeInt(key, v, 1);
          break;
        case 'bsp_schedule_delay':
          config.export.bspScheduleDelayMs = nonNegativeInt(key, v);
          break;
        case 'bsp_max_export_batch_size':
          config.export.bspMaxExportBatchSize = nonNegativeInt(key, v, 1);
          break;
        case 'file':
        case 'log-frequency':
        case 'log_frequency':
          throw new Error(`--trace-config ${key}: ${FILE_MODE} (${key}) is not supported`);
        default:
          throw new Error(`--trace-config: unknown setting '${key}' (rate, level, count, mode, url, resource, bsp_max_queue_size, bsp_schedule_delay, bsp_max_export_batch_size)`);
      }
    }
  }
  if (config.export.bspMaxExportBatchSize > config.export.bspMaxQueueSize) {
    throw new Error('--trace-config bsp_max_export_batch_size: must not exceed bsp_max_queue_size');
  }
  return config;
}

/** The trace extension's JSON form of settings (Triton sends every value as a string). */
export interface TraceSettingsWire {
  trace_level: TraceLevel[];
  trace_rate: string;
  trace_count: string;
  trace_mode: 'opentelemetry';
}

export function toWire(s: TraceSettings): TraceSettingsWire {
  return { trace_level: [s.level], trace_rate: String(s.rate), trace_count: String(s.count), trace_mode: 'opentelemetry' };
}

/** A POST body: each key a new value, or null (per model: back to the server's value; server: back to the startup value). */
export type TraceSettingsPatch = { [K in keyof TraceSettings]?: TraceSettings[K] | null };

/** Validates a POST body; throws with a message for a 400. */
export function parsePatch(body: Record<string, unknown>): TraceSettingsPatch {
  const patch: TraceSettingsPatch = {};
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'trace_level': {
        if (value === null) {
          patch.level = null;
          break;
        }
        const list = Array.isArray(value) ? value : [value];
        if (list.length === 0 || !list.every((l) => typeof l === 'string')) throw new Error('trace_level: expected an array of strings (TIMESTAMPS or OFF)');
        const levels = list.map((l) => level('trace_level', l as string));
        patch.level = levels.includes('TIMESTAMPS') ? 'TIMESTAMPS' : 'OFF';
        break;
      }
      case 'trace_rate':
      case 'trace_count': {
        const name = key === 'trace_rate' ? 'rate' : 'count';
        if (value === null) {
          patch[name] = null;
          break;
        }
        const text = typeof value === 'number' ? String(value) : value;
        if (typeof text !== 'string' || !/^-?\d+$/.test(text) || Number(text) < (name === 'rate' ? 0 : -1) || !Number.isSafeInteger(Number(text))) {
          throw new Error(`${key}: expected an integer ${name === 'rate' ? '≥ 0' : '≥ -1'} (as a string), got ${JSON.stringify(value)}`);
        }
        patch[name] = Number(text);
        break;
      }
      case 'trace_file':
      case 'log_frequency':
        throw new Error(`${key}: ${FILE_MODE} (${key}) is not supported`);
      case 'trace_mode':
        if (value !== 'opentelemetry') throw new Error("trace_mode: only 'opentelemetry'");
        break;
      default:
        throw new Error(`unknown trace setting '${key}' (trace_level, trace_rate, trace_count)`);
    }
  }
  return patch;
}
