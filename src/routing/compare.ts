// Comparing a shadow's output with the primary's, tensor by tensor: whether they are exactly equal
// (same datatype, shape and bytes), the largest absolute and relative differences (numeric tensors),
// and argmax agreement over the last axis (for classifiers: does the shadow pick the same class?).
import type { OutputTensor } from '../engine/index.js';

export interface TensorComparison {
  exact: boolean;
  /** Same datatype and shape (else nothing else is comparable). */
  comparable: boolean;
  maxAbsDiff: number;
  maxRelDiff: number;
  /** Rows (last-axis slices) compared for argmax, and how many agree. */
  argmaxRows: number;
  argmaxAgree: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function compareTensors(primary: OutputTensor, shadow: OutputTensor): TensorComparison {
  const out: TensorComparison = { exact: false, comparable: false, maxAbsDiff: 0, maxRelDiff: 0, argmaxRows: 0, argmaxAgree: 0 };
  if (primary.datatype !== shadow.datatype || !sameShape(primary.shape, shadow.shape)) return out;
  out.comparable = true;
  if (primary.datatype === 'BYTES') {
    const a = primary.data;
    const b = shadow.data as Buffer[];
    out.exact = a.length === b.length && a.every((e, i) => e.equals(b[i]!));
    return out;
  }
  const a = primary.data as ArrayLike<number | bigint>;
  const b = shadow.data as ArrayLike<number | bigint>;
  let exact = true;
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]!);
    const y = Number(b[i]!);
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    exact = false;
    const d = Math.abs(x - y);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    const scale = Math.max(Math.abs(x), Math.abs(y));
    const rel = scale > 0 ? d / scale : 0;
    if (rel > maxRel || Number.isNaN(rel)) maxRel = Number.isNaN(rel) ? Infinity : rel;
  }
  out.exact = exact;
  out.maxAbsDiff = maxAbs;
  out.maxRelDiff = maxRel;
  const width = primary.shape.length > 0 ? primary.shape[primary.shape.length - 1]! : 1;
  if (width > 1 && primary.datatype !== 'BOOL') {
    const rows = Math.floor(a.length / width);
    for (let r = 0; r < rows; r++) {
      if (argmax(a, r * width, width) === argmax(b, r * width, width)) out.argmaxAgree++;
    }
    out.argmaxRows = rows;
  }
  return out;
}

function argmax(data: ArrayLike<number | bigint>, start: number, width: number): number {
  let best = 0;
  let value = data[start]!;
  for (let i = 1; i < width; i++) {
    const v = data[start + i]!;
    if (v > value) {
      value = v;
      best = i;
    }
  }
  return best;
}
