// map<string, InferParameter>, the parameters of requests, tensors and responses, read into plain JS
// values and written from them. InferParameter is a oneof: bool_param=1, int64_param=2,
// string_param=3, double_param=4, uint64_param=5.
import { badRequest } from '../protocol/errors.js';
import { FIXED64, LENGTH_DELIMITED, Reader, VARINT, Writer, int64Size, malformed, tagSize, varintSize } from './wire.js';

/**
 * A parameter's value. 64-bit integers are numbers while safe, else their exact decimal string
 * (JSON-safe, unlike a bigint, so parameters can still be hashed and logged as JSON).
 */
export type ParameterValue = boolean | number | string;

/**
 * A parameters object. An ordinary object, not a null-prototype one: those are dictionaries in V8
 * and cost more than the rest of a small request's decode. See setParameter for "__proto__".
 */
export function emptyParameters(): Record<string, ParameterValue> {
  return {};
}

/** Sets a parameter; "__proto__" becomes an own key, as JSON.parse makes it on the HTTP front. */
function setParameter(into: Record<string, ParameterValue>, key: string, value: ParameterValue): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

/**
 * Reads one map entry (the reader is at its length prefix) into `into`; a later entry with the same
 * key replaces an earlier one, as protobuf's map semantics say. `what` names the owner in errors.
 */
export function readParameterEntry(r: Reader, end: number, into: Record<string, ParameterValue>, what: string): void {
  const stop = r.delimited(end);
  let key = '';
  let value: ParameterValue | undefined;
  while (r.pos < stop) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LENGTH_DELIMITED)) key = r.string(stop);
    else if (tag === ((2 << 3) | LENGTH_DELIMITED)) value = readParameter(r, stop);
    else r.skip(tag & 7, stop);
  }
  if (r.pos !== stop) throw malformed('parameter entry runs past its length', r.pos);
  if (value === undefined) throw badRequest(`${what} parameter '${key}' has no value`);
  setParameter(into, key, value);
}

function readParameter(r: Reader, end: number): ParameterValue | undefined {
  const stop = r.delimited(end);
  let value: ParameterValue | undefined;
  while (r.pos < stop) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | VARINT: {
        const lo = r.varint64();
        value = (lo | r.hi) !== 0;
        break;
      }
      case (2 << 3) | VARINT:
        value = r.int64(false);
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        value = r.string(stop);
        break;
      case (4 << 3) | FIXED64:
        if (r.pos + 8 > stop) throw malformed('truncated double', r.pos);
        value = r.buf.readDoubleLE(r.pos);
        r.pos += 8;
        break;
      case (5 << 3) | VARINT:
        value = r.int64(true);
        break;
      default:
        r.skip(tag & 7, stop);
    }
  }
  if (r.pos !== stop) throw malformed('parameter runs past its length', r.pos);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The encoded sizes of a parameters map, computed once and reused by writeParameters. */
export interface ParameterSizes {
  keys: string[];
  /** Per entry: key byte length, value message length, entry message length, string value byte length. */
  lengths: number[];
  /** All entries, each with its field tag and length prefix. */
  total: number;
}

/**
 * Sizes a parameters map written as `field`: booleans as bool_param, safe integers as int64_param,
 * other numbers as double_param, strings as string_param.
 */
export function parameterSizes(field: number, parameters: Readonly<Record<string, ParameterValue>>): ParameterSizes {
  const keys = Object.keys(parameters);
  const lengths: number[] = [];
  let total = 0;
  for (const key of keys) {
    const keyLength = Buffer.byteLength(key, 'utf8');
    const v = parameters[key]!;
    let valueLength: number;
    let stringLength = 0;
    if (typeof v === 'boolean') valueLength = 2;
    else if (typeof v === 'number') valueLength = Number.isSafeInteger(v) ? 1 + int64Size(v) : 9;
    else {
      stringLength = Buffer.byteLength(v, 'utf8');
      valueLength = 1 + varintSize(stringLength) + stringLength;
    }
    const entryLength = 1 + varintSize(keyLength) + keyLength + 1 + varintSize(valueLength) + valueLength;
    lengths.push(keyLength, valueLength, entryLength, stringLength);
    total += tagSize(field) + varintSize(entryLength) + entryLength;
  }
  return { keys, lengths, total };
}

export function writeParameters(w: Writer, field: number, parameters: Readonly<Record<string, ParameterValue>>, sizes: ParameterSizes): void {
  const { keys, lengths } = sizes;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = parameters[key]!;
    w.tag(field, LENGTH_DELIMITED);
    w.varint(lengths[4 * i + 2]!);
    w.tag(1, LENGTH_DELIMITED);
    w.string(key, lengths[4 * i]!);
    w.tag(2, LENGTH_DELIMITED);
    w.varint(lengths[4 * i + 1]!);
    if (typeof v === 'boolean') {
      w.tag(1, VARINT);
      w.varint(v ? 1 : 0);
    } else if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) {
        w.tag(2, VARINT);
        w.int64(v);
      } else {
        w.tag(4, FIXED64);
        w.double(v);
      }
    } else {
      w.tag(3, LENGTH_DELIMITED);
      w.string(v, lengths[4 * i + 3]!);
    }
  }
}
