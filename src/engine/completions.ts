// The JS end of the completion channel. Each infer() takes a slot in this thread's table (its promise
// settlers and the caller's inputs, which the engine reads in place until the slot comes back). The
// addon calls deliver() once per drain with a Float64Array descriptor of every finished request, and
// the outputs are built here: plain JS object literals and typed-array views, which V8 makes much
// faster than building them through N-API.
import type { DataType } from './datatype.js';
import { TensorgateError } from './errors.js';
import type { InferOutputs } from './tensor.js';

/** ONNX element type numbers -> v2 names and the array type that carries them. */
const TYPE_NAME: Array<DataType | undefined> = [];
const TYPE_ARRAY: Array<(new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView) | undefined> = [];
(
  [
    [1, 'FP32', Float32Array],
    [2, 'UINT8', Uint8Array],
    [3, 'INT8', Int8Array],
    [4, 'UINT16', Uint16Array],
    [5, 'INT16', Int16Array],
    [6, 'INT32', Int32Array],
    [7, 'INT64', BigInt64Array],
    [8, 'BYTES', undefined],
    [9, 'BOOL', Uint8Array],
    [10, 'FP16', Uint16Array],
    [11, 'FP64', Float64Array],
    [12, 'UINT32', Uint32Array],
    [13, 'UINT64', BigUint64Array],
  ] as const
).forEach(([code, name, ctor]) => {
  TYPE_NAME[code] = name;
  TYPE_ARRAY[code] = ctor;
});

interface Slot {
  resolve: (out: InferOutputs) => void;
  reject: (err: unknown) => void;
  /** Output names of the model, by index. */
  outputNames: readonly string[];
  /** The caller's inputs: referenced here so GC cannot free them while the engine reads them. */
  inputs: unknown;
  /** Rejected early (aborted): the engine's answer is dropped. */
  settled: boolean;
}

const slots: Array<Slot | undefined> = [];
const freeSlots: number[] = [];

export function takeSlot(slot: Slot): number {
  const id = freeSlots.pop() ?? slots.length;
  slots[id] = slot;
  return id;
}

/** For a submit that threw: the slot never reached the engine. */
export function releaseSlot(id: number): void {
  slots[id] = undefined;
  freeSlots.push(id);
}

/** Settles a slot early (abort); the engine still returns it later, and that answer is ignored. */
export function settleEarly(id: number, err: TensorgateError): boolean {
  const slot = slots[id];
  if (!slot || slot.settled) return false;
  slot.settled = true;
  slot.reject(err);
  return true;
}

export function deliver(
  desc: Float64Array,
  count: number,
  buffers: ArrayBuffer[],
  errors: Error[] | undefined,
  bytes: Buffer[][] | undefined,
): void {
  let p = 0;
  for (let r = 0; r < count; r++) {
    const id = desc[p++]!;
    const status = desc[p++]!;
    const n = desc[p++]!;
    const slot = slots[id]!;
    slots[id] = undefined;
    freeSlots.push(id);
    if (status !== 0) {
      if (!slot.settled) slot.reject(errors![status - 1]);
      continue;
    }
    const out: InferOutputs = {};
    for (let k = 0; k < n; k++) {
      const index = desc[p++]!;
      const type = desc[p++]!;
      const buffer = desc[p++]!;
      const offset = desc[p++]!;
      const length = desc[p++]!;
      const rank = desc[p++]!;
      const shape = new Array<number>(rank);
      for (let d = 0; d < rank; d++) shape[d] = desc[p++]!;
      const data = buffer >= 0 ? new TYPE_ARRAY[type]!(buffers[buffer]!, offset, length) : bytes![-buffer - 1]!;
      out[slot.outputNames[index]!] = { datatype: TYPE_NAME[type]!, shape, data } as InferOutputs[string];
    }
    if (!slot.settled) slot.resolve(out);
  }
}
