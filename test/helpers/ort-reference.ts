// Reference inference with onnxruntime-node, run in a child process: never import
// onnxruntime-node into a vitest worker, where tensorgate's addon may already have created
// libonnxruntime's global thread pools (onnxruntime-node's own Env would conflict with them).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CARRIER, type DataType } from '../../src/engine/datatype.js';

/**
 * A tensor in v2 terms with tensorgate's carriers (see src/engine/datatype.ts). BYTES goes in as
 * strings or byte arrays (which must be UTF-8: onnxruntime-node carries JS strings) and comes
 * back as Buffer[].
 */
export interface RefTensor {
  datatype: DataType;
  shape: number[];
  data: ArrayBufferView | Array<string | Uint8Array>;
}

export interface ReferenceOptions {
  /** Outputs to fetch, in this order; default all of the model's outputs. */
  outputs?: string[];
}

type WireData = { base64: string } | { bytes: string[] };
interface WireTensor {
  datatype: DataType;
  shape: number[];
  data: WireData;
}
type WireReply = { results: Array<Record<string, WireTensor>> } | { error: string };

const CHILD_SCRIPT = fileURLToPath(new URL('./ort-reference-child.mjs', import.meta.url));

/** Runs `model` (a path or its bytes) once per input set in one child process. */
export async function runReference(
  model: string | Uint8Array,
  inputSets: Array<Record<string, RefTensor>>,
  options: ReferenceOptions = {},
): Promise<Array<Record<string, RefTensor>>> {
  const request = {
    model: typeof model === 'string' ? { path: model } : { base64: Buffer.from(model).toString('base64') },
    outputs: options.outputs,
    inputSets: inputSets.map((set) => mapValues(set, encodeTensor)),
  };
  const reply = await exchange(JSON.stringify(request));
  if ('error' in reply) throw new Error(`onnxruntime-node reference: ${reply.error}`);
  return reply.results.map((set) => mapValues(set, decodeTensor));
}

function exchange(request: string): Promise<WireReply> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const text = Buffer.concat(stdout).toString('utf8');
      try {
        resolve(JSON.parse(text) as WireReply);
      } catch {
        const why = Buffer.concat(stderr).toString('utf8').trim() || `exit ${code ?? signal}`;
        reject(new Error(`onnxruntime-node reference child failed: ${why}`));
      }
    });
    // The child may die before reading everything; that surfaces through 'close' instead.
    child.stdin.on('error', () => {});
    child.stdin.end(request);
  });
}

function encodeTensor(t: RefTensor, name: string): WireTensor {
  const { datatype, shape } = t;
  if (datatype === 'BYTES') {
    if (!Array.isArray(t.data)) throw new Error(`input ${name}: BYTES data must be an array`);
    const bytes = t.data.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)).toString('base64'));
    return { datatype, shape, data: { bytes } };
  }
  if (Array.isArray(t.data)) throw new Error(`input ${name}: ${datatype} data must be a typed array`);
  const view = t.data as ArrayBufferView;
  return { datatype, shape, data: { base64: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64') } };
}

function decodeTensor(t: WireTensor): RefTensor {
  const { datatype, shape, data } = t;
  if ('bytes' in data) return { datatype, shape, data: data.bytes.map((b) => Buffer.from(b, 'base64')) };
  if (datatype === 'BYTES') throw new Error('BYTES output arrived as raw data');
  const raw = Buffer.from(data.base64, 'base64');
  // Copy into a fresh ArrayBuffer: a pooled Buffer's offset need not suit the element alignment.
  const aligned = new Uint8Array(raw.length);
  aligned.set(raw);
  const Ctor = CARRIER[datatype];
  return { datatype, shape, data: new Ctor(aligned.buffer, 0, raw.length / Ctor.BYTES_PER_ELEMENT) };
}

function mapValues<A, B>(record: Record<string, A>, f: (value: A, key: string) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v, k)]));
}
