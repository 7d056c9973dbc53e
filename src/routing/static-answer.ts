// The last level of a fallback chain: a fixed answer read from a file when the route loads (e.g. the
// most popular items), in the v2 response's own shape: {"outputs": [{name, datatype, shape, data}]}.
// Validated at load like any config: datatype, shape and element count, with messages naming the file
// and the output.
import { readFileSync } from 'node:fs';
import { DATATYPES, type DataType, type InferOutputs, type OutputTensor } from '../engine/index.js';

export interface StaticAnswer {
  outputs: InferOutputs;
  /** Output names in the file's order (the response's order). */
  order: string[];
}

const TYPED: Partial<Record<DataType, (n: number) => ArrayLike<number> & { [i: number]: number }>> = {
  BOOL: (n) => new Uint8Array(n),
  UINT8: (n) => new Uint8Array(n),
  UINT16: (n) => new Uint16Array(n),
  UINT32: (n) => new Uint32Array(n),
  INT8: (n) => new Int8Array(n),
  INT16: (n) => new Int16Array(n),
  INT32: (n) => new Int32Array(n),
  FP32: (n) => new Float32Array(n),
  FP64: (n) => new Float64Array(n),
};

export function readStaticAnswer(path: string, where: string): StaticAnswer {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${where}: cannot read the static answer ${path}: ${(err as Error).message}`);
  }
  const list = (raw as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${where}: ${path}: expected {"outputs": [{name, datatype, shape, data}, ...]}`);
  const outputs: InferOutputs = {};
  const order: string[] = [];
  list.forEach((o: unknown, i) => {
    const at = `${where}: ${path}: outputs[${i}]`;
    const { name, datatype, shape, data } = (o ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') throw new Error(`${at}.name: expected a name`);
    if (outputs[name]) throw new Error(`${at}.name: '${name}' appears twice`);
    if (typeof datatype !== 'string' || !(DATATYPES as readonly string[]).includes(datatype)) throw new Error(`${at}.datatype: expected one of ${DATATYPES.join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${at}.shape: expected non-negative integers`);
    const flat = Array.isArray(data) ? (data.flat(Infinity) as unknown[]) : undefined;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!flat || flat.length !== count) throw new Error(`${at}.data: expected ${count} elements for shape [${(shape as number[]).join(',')}]`);
    outputs[name] = tensor(datatype as DataType, shape as number[], flat, at);
    order.push(name);
  });
  return { outputs, order };
}

function tensor(datatype: DataType, shape: number[], flat: unknown[], at: string): OutputTensor {
  if (datatype === 'BYTES') {
    if (!flat.every((v) => typeof v === 'string')) throw new Error(`${at}.data: BYTES elements are strings`);
    return { datatype, shape, data: flat.map((v) => Buffer.from(v as string, 'utf8')) };
  }
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const data = datatype === 'INT64' ? new BigInt64Array(flat.length) : new BigUint64Array(flat.length);
    flat.forEach((v, i) => {
      if (!(typeof v === 'number' && Number.isInteger(v)) && !(typeof v === 'string' && /^-?\d+$/.test(v))) throw new Error(`${at}.data[${i}]: expected an integer`);
      data[i] = BigInt(v);
    });
    return { datatype, shape, data } as OutputTensor;
  }
  if (datatype === 'FP16') throw new Error(`${at}.datatype: FP16 static answers are not supported (use FP32)`);
  const make = TYPED[datatype]!;
  const data = make(flat.length);
  flat.forEach((v, i) => {
    const x = typeof v === 'boolean' ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${at}.data[${i}]: expected a number`);
    data[i] = x;
  });
  return { datatype, shape, data } as unknown as OutputTensor;
}
