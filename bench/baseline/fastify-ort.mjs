// The baseline a Node team would write: Fastify + onnxruntime-node, the same v2 JSON protocol,
// one session.run per request on the event loop. Usage: node fastify-ort.mjs <repository> <port> [intraThreads]
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Fastify from 'fastify';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const [repository, port, threads = '1'] = process.argv.slice(2);

const TYPES = { FP32: ['float32', Float32Array], INT64: ['int64', BigInt64Array], INT32: ['int32', Int32Array], FP64: ['float64', Float64Array] };
const sessions = new Map();
for (const name of readdirSync(repository)) {
  const path = join(repository, name, '1', 'model.onnx');
  if (!existsSync(path)) continue; // a route or anything else that is not an ONNX model
  sessions.set(name, await ort.InferenceSession.create(path, { intraOpNumThreads: Number(threads), interOpNumThreads: 1 }));
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.post('/v2/models/:model/infer', async (request, reply) => {
  const session = sessions.get(request.params.model);
  if (!session) return reply.code(404).send({ error: `unknown model '${request.params.model}'` });
  const feeds = {};
  for (const input of request.body.inputs ?? []) {
    const [type, Ctor] = TYPES[input.datatype] ?? [];
    if (!type) return reply.code(400).send({ error: `unsupported datatype ${input.datatype}` });
    const flat = input.data.flat(Infinity);
    feeds[input.name] = new ort.Tensor(type, Ctor.from(flat), input.shape);
  }
  try {
    const results = await session.run(feeds);
    return {
      model_name: request.params.model,
      model_version: '1',
      outputs: Object.entries(results).map(([name, t]) => ({ name, datatype: 'FP32', shape: t.dims, data: Array.from(t.data) })),
    };
  } catch (err) {
    return reply.code(400).send({ error: err.message });
  }
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
console.log('ready');
