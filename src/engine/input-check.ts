// The one validation of a request's inputs against a model, with the messages users see: names,
// datatypes, the array that carries the data, ranks, dims and element counts. The protocol decoders
// only check what decoding needs (well-formed values, element counts of the wire form), and the addon
// only what keeps it memory-safe; everything about the model is checked here, once.
import { CARRIER, type DataType, type NumericDataType } from './datatype.js';
import { TensorgateError } from './errors.js';
import type { InputTensor, TensorMetadata } from './tensor.js';

const TYPED_ARRAYS = [
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
] as const;

function invalid(message: string): TensorgateError {
  return new TensorgateError('INVALID_ARGUMENT', message);
}

function kindName(value: unknown): string {
  for (const T of TYPED_ARRAYS) if (value instanceof T) return T.name;
  return 'TypedArray';
}

/** A model's inputs, indexed for checking requests. */
export class InputSpec {
  readonly names: readonly string[];
  readonly #index: Map<string, number>;
  readonly #inputs: readonly TensorMetadata[];

  constructor(inputs: readonly TensorMetadata[]) {
    this.#inputs = inputs;
    this.names = inputs.map((t) => t.name);
    this.#index = new Map(this.names.map((n, i) => [n, i]));
  }

  /** Checks one input against the model; returns its index in model input order. */
  check(name: string, tensor: InputTensor): number {
    const index = this.#index.get(name);
    if (index === undefined) throw invalid(`unknown input '${name}' (model inputs: ${this.names.join(', ')})`);
    const meta = this.#inputs[index]!;
    const expected = meta.datatype;
    if (tensor.datatype !== undefined && tensor.datatype !== expected) {
      throw invalid(`input '${name}': expected datatype ${expected}, got ${tensor.datatype}`);
    }
    const count = checkShape(meta, tensor.shape);
    checkData(name, expected, tensor.data, count, tensor.shape);
    return index;
  }

  /** The message for inputs the model has but the request lacks. */
  missing(given: (name: string) => boolean): TensorgateError {
    const missing = this.names.filter((n) => !given(n));
    return invalid(`missing input${missing.length > 1 ? 's' : ''} '${missing.join("', '")}'`);
  }
}

/** Rank, dims (non-negative integers, fixed ones equal); returns the element count. */
function checkShape(meta: TensorMetadata, shape: unknown): number {
  const name = meta.name;
  if (!Array.isArray(shape)) throw invalid(`input '${name}': shape must be an array of non-negative integers`);
  if (shape.length !== meta.shape.length) {
    const given = shape.length > 16 ? `${shape.slice(0, 16).join(',')},...` : shape.join(',');
    throw invalid(`input '${name}': expected rank ${meta.shape.length} (shape [${meta.shape.join(',')}]), got rank ${shape.length} (shape [${given}])`);
  }
  let count = 1;
  for (let d = 0; d < shape.length; d++) {
    const x: unknown = shape[d];
    if (typeof x !== 'number' || !(x >= 0) || !Number.isSafeInteger(x)) {
      throw invalid(`input '${name}': shape must be an array of non-negative integers, got ${String(x)} at dim ${d}`);
    }
    count *= x;
  }
  for (let d = 0; d < shape.length; d++) {
    const fixed = meta.shape[d]!;
    if (fixed >= 0 && fixed !== shape[d]) {
      throw invalid(`input '${name}': expected shape [${meta.shape.join(',')}], got [${shape.join(',')}] (dim ${d} must be ${fixed})`);
    }
  }
  return count;
}

/** The carrier array of the datatype, holding exactly the shape's element count. */
function checkData(name: string, datatype: DataType, data: unknown, count: number, shape: readonly number[]): void {
  let length: number;
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) {
      const got = ArrayBuffer.isView(data) ? `a ${kindName(data)}` : 'a value that is not an array';
      throw invalid(`input '${name}': expected datatype BYTES (an array of strings or Uint8Arrays), got ${got}`);
    }
    length = data.length;
  } else {
    const Carrier = CARRIER[datatype as NumericDataType];
    const ok = data instanceof Carrier || ((datatype === 'UINT8' || datatype === 'BOOL') && data instanceof Uint8ClampedArray);
    if (!ok) {
      if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
        throw invalid(`input '${name}': expected datatype ${datatype} (${Carrier.name}), got a ${kindName(data)}`);
      }
      const got = Array.isArray(data) ? 'a plain array' : 'a value that is not a typed array';
      throw invalid(`input '${name}': expected datatype ${datatype} as a ${Carrier.name}, got ${got}`);
    }
    length = (data as ArrayLike<unknown>).length;
  }
  if (length !== count) throw invalid(`input '${name}': shape [${shape.join(',')}] has ${count} elements but data has ${length}`);
}
