// W3C Trace Context (https://www.w3.org/TR/trace-context/): the traceparent header read and written.
// `version-traceid-parentid-flags`: 2, 32 and 16 lower-case hex digits and 2 of flags. All-zero ids
// and version ff are invalid; version 00 carries nothing more, later versions may (ignored here).
import { randomBytes } from 'node:crypto';

export interface ParentContext {
  traceId: string;
  spanId: string;
  /** The caller's sampled flag (01). */
  sampled: boolean;
  tracestate: string | undefined;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The parent a traceparent header names, or undefined when it is absent or invalid (then a new trace starts). */
export function parseTraceparent(header: string | undefined, tracestate?: string): ParentContext | undefined {
  if (header === undefined) return undefined;
  const h = header.trim();
  if (h.length < 55) return undefined;
  const version = h.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return undefined;
  if (version === '00' ? h.length !== 55 : h.length > 55 && h[55] !== '-') return undefined;
  if (h[2] !== '-' || h[35] !== '-' || h[52] !== '-') return undefined;
  const traceId = h.slice(3, 35);
  const spanId = h.slice(36, 52);
  const flags = h.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1, tracestate: tracestate?.trim() || undefined };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export function newTraceId(): string {
  let id: string;
  do id = randomBytes(16).toString('hex');
  while (id === ZERO_TRACE);
  return id;
}

export function newSpanId(): string {
  let id: string;
  do id = randomBytes(8).toString('hex');
  while (id === ZERO_SPAN);
  return id;
}

/** The headers (or gRPC metadata) a traced request's reply carries: traceparent naming its server span, and tracestate. */
export function traceHeaders(traced: { traceId: string; spanId: string; tracestate: string | undefined }): Record<string, string> {
  const headers: Record<string, string> = { traceparent: formatTraceparent(traced.traceId, traced.spanId, true) };
  if (traced.tracestate !== undefined) headers.tracestate = traced.tracestate;
  return headers;
}
