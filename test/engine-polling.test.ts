// --spin-microseconds: the flag reaches the engine's polling windows, and a model's runner takes the
// engine's window unless its load options name their own (0 turns polling off).
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../src/cli/options.js';
import { DEFAULT_SPIN_MICROSECONDS, engineOptionsSchema, loadOptionsSchema, toNativeBatching } from '../src/engine/options.js';

describe('--spin-microseconds', () => {
  it('is parsed, bounded, and absent unless given (the engine default applies)', () => {
    const parsed = parseServeArgs(['--model-repository', '/m', '--spin-microseconds', '0'], {});
    expect(parsed !== 'help' && parsed.spinMicroseconds).toBe(0);
    const plain = parseServeArgs(['--model-repository', '/m'], {});
    expect(plain !== 'help' && plain.spinMicroseconds).toBeUndefined();
    expect(() => parseServeArgs(['--model-repository', '/m', '--spin-microseconds', '20000'], {})).toThrow(/spin/i);
    expect(engineOptionsSchema.parse({}).spinMicroseconds).toBe(DEFAULT_SPIN_MICROSECONDS);
  });

  it("a model's runner polls for the engine's window, or its own when its load options set one", () => {
    const load = loadOptionsSchema.parse({ maxBatchSize: 8, dynamicBatching: true });
    expect(toNativeBatching(load, 0).spinMicroseconds).toBe(0);
    expect(toNativeBatching(load, 120).spinMicroseconds).toBe(120);
    expect(toNativeBatching(loadOptionsSchema.parse({ maxBatchSize: 8, spinMicroseconds: 7 }), 0).spinMicroseconds).toBe(7);
  });
});
