// Tensors crossing between threads without copies where possible. An ArrayBuffer that a tensor owns
// entirely is transferred (moved: the sender's view is left empty); a view into a larger buffer is
// copied once, to exactly its bytes, and that copy is transferred (a structured clone would copy the
// whole underlying buffer); a SharedArrayBuffer-backed view is shared as is. Small tensors of one
// message are copied into one arena buffer (one transfer per message, not per tensor), and BYTES
// elements into one buffer per tensor. Used by the main thread (requests to JavaScript models, answers to their calls) and
// by workers (responses, calls to other models).
import type { DataType } from '../engine/datatype.js';

export type Numeric = Exclude<ArrayBufferView, DataView>;

/** A tensor as it travels in a message: BYTES as strings or views into one packed buffer. */
export interface WireTensor {
  datatype?: DataType | undefined;
  shape: number[];
  data: Numeric | Array<string | Uint8Array>;
}

export type WireTensors = Record<string, WireTensor>;

/** Whether `view` is the only view of its buffer's bytes, so the buffer can be moved. */
export function ownsBuffer(view: ArrayBufferView): boolean {
  const buffer = view.buffer;
  return !(buffer instanceof SharedArrayBuffer) && buffer.byteLength > 0 && view.byteOffset === 0 && view.byteLength === buffer.byteLength;
}

function copyOf(view: Numeric): Numeric {
  const Ctor = view.constructor as new (buffer: ArrayBuffer) => Numeric;
  const bytes = new Uint8Array(view.byteLength);
  bytes.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return new Ctor(bytes.buffer);
}

/** BYTES elements: strings as they are, byte elements copied into one buffer that is transferred. */
function packBytes(elements: ReadonlyArray<unknown>, transfer: Set<ArrayBuffer>): Array<string | Uint8Array> {
  let total = 0;
  for (const e of elements) if (typeof e !== 'string') total += (e as Uint8Array).byteLength;
  if (total === 0) return elements.map((e) => (typeof e === 'string' ? e : new Uint8Array(0)));
  const packed = new Uint8Array(total);
  transfer.add(packed.buffer);
  let at = 0;
  return elements.map((e) => {
    if (typeof e === 'string') return e;
    const bytes = e as Uint8Array;
    const view = packed.subarray(at, at + bytes.byteLength);
    view.set(bytes);
    at += bytes.byteLength;
    return view;
  });
}

/** Tensors up to this size travel packed together in one buffer per message (an arena). */
export const SMALL_TENSOR_BYTES = 4096;

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * One buffer that the small tensors of a message are copied into, so that a batch of requests crosses
 * with one transferred buffer instead of one per tensor (each transferred buffer costs more to post
 * than copying a small one).
 */
export class Arena {
  readonly buffer: ArrayBuffer;
  #at = 0;
  constructor(bytes: number) {
    this.buffer = new ArrayBuffer(bytes);
  }
  /** The bytes an arena needs for these views (those that qualify). */
  static bytesFor(views: Iterable<unknown>): number {
    let n = 0;
    for (const v of views) if (Arena.fits(v)) n += align8((v as Numeric).byteLength);
    return n;
  }
  static fits(v: unknown): v is Numeric {
    return ArrayBuffer.isView(v) && !(v instanceof DataView) && v.byteLength <= SMALL_TENSOR_BYTES && !(v.buffer instanceof SharedArrayBuffer);
  }
  place(view: Numeric): Numeric {
    const at = this.#at;
    new Uint8Array(this.buffer, at, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    this.#at = at + align8(view.byteLength);
    const Ctor = view.constructor as new (buffer: ArrayBuffer, offset: number, length: number) => Numeric;
    return new Ctor(this.buffer, at, view.byteLength / (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
  }
}

/**
 * One tensor made ready to post: small numeric data goes to the arena when there is one; otherwise
 * `move` says the caller gives its buffers away (transferred when owned entirely), and numeric data is
 * copied to a buffer of its own first when not.
 */
export function wireTensor(
  tensor: { datatype?: DataType | undefined; shape: readonly number[]; data: unknown },
  move: boolean,
  transfer: Set<ArrayBuffer>,
  arena?: Arena,
): WireTensor {
  const shape = [...tensor.shape];
  const data = tensor.data;
  if (Array.isArray(data)) return { datatype: tensor.datatype, shape, data: packBytes(data, transfer) };
  const view = data as Numeric;
  if (view.buffer instanceof SharedArrayBuffer) return { datatype: tensor.datatype, shape, data: view };
  if (arena !== undefined && Arena.fits(view)) return { datatype: tensor.datatype, shape, data: arena.place(view) };
  if (move && ownsBuffer(view)) {
    transfer.add(view.buffer as ArrayBuffer);
    return { datatype: tensor.datatype, shape, data: view };
  }
  const copy = copyOf(view);
  transfer.add(copy.buffer as ArrayBuffer);
  return { datatype: tensor.datatype, shape, data: copy };
}

export function wireTensors(
  tensors: Readonly<Record<string, { datatype?: DataType | undefined; shape: readonly number[]; data: unknown }>>,
  move: boolean,
  transfer: Set<ArrayBuffer>,
  arena?: Arena,
): WireTensors {
  const out: WireTensors = {};
  for (const name in tensors) out[name] = wireTensor(tensors[name]!, move, transfer, arena);
  return out;
}

/** BYTES elements as Buffers (views, no copy), the form the engine returns BYTES in. */
export function asBuffers(elements: ReadonlyArray<string | Uint8Array>): Buffer[] {
  return elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.isBuffer(e) ? e : Buffer.from(e.buffer, e.byteOffset, e.byteLength)));
}
