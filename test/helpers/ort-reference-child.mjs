// Child process of test/helpers/ort-reference.ts: runs a model with onnxruntime-node and reports
// the outputs. It lives in its own process because the vitest worker may load tensorgate's addon,
// whose libonnxruntime global thread pools conflict with onnxruntime-node's Env.
//
// stdin: one JSON request { model: { path } | { base64 }, outputs?: string[],
//   inputSets: [{ name: { datatype, shape, data: { base64 } | { bytes: base64[] } } }] }
// stdout: one JSON reply { results: [same tensor encoding] } or { error: message }.

import { createRequire } from 'node:module';

// Node 24 has Float16Array; onnxruntime-common then wraps float16 data in one, which
// onnxruntime-node 1.30's native binding cannot read through Node-API (it sees 0 bytes). The
// reference passes raw half bits as Uint16Array, as on Node 20/22: hide Float16Array from it.
delete globalThis.Float16Array;

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const ORT_TYPE = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};
const V2_TYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([v2, o]) => [o, v2]));
const ARRAY = {
  bool: Uint8Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  // Raw half bits: onnxruntime-node takes Uint16Array for float16 when Float16Array is absent.
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

function decodeTensor(name, t) {
  const type = ORT_TYPE[t.datatype];
  if (!type) throw new Error(`input ${name}: unsupported datatype ${t.datatype}`);
  if (type === 'string') {
    // onnxruntime-node carries strings as JS strings, so non-UTF-8 bytes cannot pass through.
    const strings = t.data.bytes.map((b) => Buffer.from(b, 'base64').toString('utf8'));
    return new ort.Tensor('string', strings, t.shape);
  }
  const raw = Buffer.from(t.data.base64, 'base64');
  const Ctor = ARRAY[type];
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return new ort.Tensor(type, new Ctor(copy.buffer, 0, raw.length / Ctor.BYTES_PER_ELEMENT), t.shape);
}

function encodeTensor(name, tensor) {
  const datatype = V2_TYPE[tensor.type];
  if (!datatype) throw new Error(`output ${name}: unsupported ORT type ${tensor.type}`);
  const shape = Array.from(tensor.dims, Number);
  if (datatype === 'BYTES') {
    return { datatype, shape, data: { bytes: tensor.data.map((s) => Buffer.from(s, 'utf8').toString('base64')) } };
  }
  const d = tensor.data;
  return { datatype, shape, data: { base64: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') } };
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const request = await readStdin();
  const model = request.model.path ?? new Uint8Array(Buffer.from(request.model.base64, 'base64'));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const fetches = request.outputs ?? session.outputNames;
  const results = [];
  for (const set of request.inputSets) {
    const feeds = Object.fromEntries(Object.entries(set).map(([name, t]) => [name, decodeTensor(name, t)]));
    const out = await session.run(feeds, fetches);
    results.push(Object.fromEntries(fetches.map((name) => [name, encodeTensor(name, out[name])])));
  }
  await session.release();
  return { results };
}

let reply;
try {
  reply = await main();
} catch (err) {
  reply = { error: err instanceof Error ? err.message : String(err) };
  process.exitCode = 1;
}
process.stdout.write(JSON.stringify(reply));
