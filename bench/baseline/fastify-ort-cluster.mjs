// The Fastify + onnxruntime-node baseline in cluster mode: one process per core (what a Node team
// does to use every core), each the app of fastify-ort.mjs with one intra-op thread, sharing the port
// through node:cluster. Usage: node fastify-ort-cluster.mjs <repository> <port> [processes]
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const [repository, port, count = String(availableParallelism())] = process.argv.slice(2);
cluster.setupPrimary({ exec: fileURLToPath(new URL('./fastify-ort.mjs', import.meta.url)), args: [repository, port, '1'], silent: true });
let listening = 0;
for (let i = 0; i < Number(count); i++) cluster.fork();
cluster.on('listening', () => {
  if (++listening === Number(count)) console.log('ready');
});
cluster.on('exit', (worker, code) => {
  if (code !== 0 && code !== null) console.error(`worker ${worker.process.pid} exited with ${code}`);
});
const stop = () => {
  for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  setTimeout(() => process.exit(0), 500).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
