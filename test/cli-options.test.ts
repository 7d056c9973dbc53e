// `tensorgate serve` options for the limits and admission control: durations and byte sizes as flags,
// their defaults (one place: the tables they come from), and the messages that name a bad one.
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../src/cli/options.js';
import { DEFAULT_ADMISSION } from '../src/inference/admission.js';
import { DEFAULT_DECODE_LIMITS } from '../src/protocol/limits.js';
import { DEFAULT_TRANSPORT_LIMITS } from '../src/server/transport.js';

const parse = (...flags: string[]) => {
  const parsed = parseServeArgs(['--model-repository', '/models', ...flags], {});
  if (parsed === 'help') throw new Error('help');
  return parsed;
};

describe('limit and admission flags', () => {
  it('default to the tables the server reads', () => {
    const o = parse();
    expect(o.defaultRequestTimeout).toBe(DEFAULT_ADMISSION.defaultTimeoutUs / 1000);
    expect(o.maxQueueSize).toBe(DEFAULT_ADMISSION.maxQueueSize);
    expect(o.admission).toBe('on');
    expect(o.maxJsonDepth).toBe(DEFAULT_DECODE_LIMITS.maxJsonDepth);
    expect(o.maxRequestElements).toBe(DEFAULT_DECODE_LIMITS.maxElements);
    expect(o.httpHeaderTimeout).toBe(DEFAULT_TRANSPORT_LIMITS.headerTimeoutMs);
    expect(o.httpRequestTimeout).toBe(DEFAULT_TRANSPORT_LIMITS.requestTimeoutMs);
    expect(o.lingerTimeout).toBe(DEFAULT_TRANSPORT_LIMITS.lingerTimeoutMs);
    expect(o.lingerBytes).toBe(DEFAULT_TRANSPORT_LIMITS.lingerBytes);
    expect(o.maxInflightBodyBytes).toBe(512 * 1024 * 1024);
  });

  it('take durations with units (a bare number is ms) and sizes with units', () => {
    const o = parse('--default-request-timeout', '250us', '--http-header-timeout', '2s', '--http-request-timeout', '1.5m', '--linger-timeout', '300', '--linger-bytes', '1MiB', '--max-inflight-body-bytes', '2GiB');
    expect(o.defaultRequestTimeout).toBe(0.25);
    expect(o.httpHeaderTimeout).toBe(2000);
    expect(o.httpRequestTimeout).toBe(90_000);
    expect(o.lingerTimeout).toBe(300);
    expect(o.lingerBytes).toBe(1024 * 1024);
    expect(o.maxInflightBodyBytes).toBe(2 * 1024 ** 3);
  });

  it('name the flag and what it expects', () => {
    expect(() => parse('--default-request-timeout', '2x')).toThrow('--default-request-timeout: a duration such as 50ms, 10s or 2m (a bare number is ms)');
    expect(() => parse('--admission', 'maybe')).toThrow(/^--admission: /);
    expect(() => parse('--max-json-depth', '1')).toThrow(/^--max-json-depth: /);
    expect(() => parse('--max-inflight-body-bytes', '1MiB')).toThrow('--max-inflight-body-bytes: must be at least --max-body-bytes');
  });
});
