// Small readers of parsed JSON values shared by the v2 decoders: each names what it read in its error.
import { badRequest } from './errors.js';

export function asParameters(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw badRequest(`${what}: 'parameters' must be an object, got ${describe(value)}`);
  return value;
}

export function asBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw badRequest(`${what} must be a boolean, got ${describe(value)}`);
  return value;
}

export function asUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw badRequest(`${what} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A short rendering of a JSON value for error messages. Never throws: a value JSON cannot render
 * (nested too deep for the stack, say) is named by its kind.
 */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  } catch {
    text = Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
