// The JS end of the completion channel. Each infer() takes a slot in this thread's table (its promise
// settlers and the caller's inputs, which the engine reads in place until the slot comes back). The
// addon calls deliver() once per drain with a Float64Array descriptor of every finished request, and
// the outputs are built here: plain JS object literals and typed-array views, which V8 makes much
// faster than building them through N-API.
import { COMPLETION_LAYOUT as L } from './completion-layout.js';
import { BY_ONNX, CARRIER, type DataType, type NumericDataType } from './datatype.js';
import { TensorgateError } from './errors.js';
import type { InferOutputs } from './tensor.js';

type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;

/** ONNX element type numbers -> v2 names and the array type that carries them (from the datatype table). */
const TYPE_NAME: ReadonlyArray<DataType | undefined> = BY_ONNX;
const TYPE_ARRAY: ReadonlyArray<ViewCtor | undefined> = BY_ONNX.map((name) =>
  name === undefined || name === 'BYTES' ? undefined : (CARRIER[name as NumericDataType] as unknown as ViewCtor),
);

/** Where a request spent its time in the engine, from the native side's own clock. */
export interface InferTimings {
  /** Enqueue -> its batch started (0 when it never started). */
  queueNs: number;
  /** Its batch's run: inputs gathered to outputs sliced (0 when it did not run). */
  computeNs: number;
  /** Rows of the batch it ran in (0 when it did not run). */
  batchSize: number;
}

interface Slot {
  resolve: (out: InferOutputs) => void;
  reject: (err: unknown) => void;
  /** Output names of the model, by index. */
  outputNames: readonly string[];
  /** The caller's inputs: referenced here so GC cannot free them while the engine reads them. */
  inputs: unknown;
  /** Rejected early (aborted): the engine's answer is dropped. */
  settled: boolean;
  /** Filled with the request's engine timings when given. */
  timings: InferTimings | undefined;
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
    const id = desc[p + L.slot]!;
    const status = desc[p + L.status]!;
    const n = desc[p + L.outputs]!;
    const slot = slots[id]!;
    slots[id] = undefined;
    freeSlots.push(id);
    const timings = slot.timings;
    if (timings !== undefined) {
      timings.queueNs = desc[p + L.queueNs]!;
      timings.computeNs = desc[p + L.computeNs]!;
      timings.batchSize = desc[p + L.batchSize]!;
    }
    p += L.requestWords;
    if (status !== 0) {
      if (!slot.settled) slot.reject(errors![status - 1]);
      continue;
    }
    const out: InferOutputs = {};
    for (let k = 0; k < n; k++) {
      const index = desc[p + L.outIndex]!;
      const type = desc[p + L.outType]!;
      const buffer = desc[p + L.outBuffer]!;
      const offset = desc[p + L.outOffset]!;
      const length = desc[p + L.outLength]!;
      const rank = desc[p + L.outRank]!;
      p += L.outputWords;
      const shape = new Array<number>(rank);
      for (let d = 0; d < rank; d++) shape[d] = desc[p++]!;
      const data = buffer >= 0 ? new TYPE_ARRAY[type]!(buffers[buffer]!, offset, length) : bytes![-buffer - 1]!;
      out[slot.outputNames[index]!] = { datatype: TYPE_NAME[type]!, shape, data } as InferOutputs[string];
    }
    if (!slot.settled) slot.resolve(out);
  }
}
