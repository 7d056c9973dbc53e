// onnxruntime-node baseline, run in its own process (its OrtEnv must not share ours). Reads a JSON
// job on argv[2] and prints JSON results on stdout.
//   { kind: 'micro', model, inputName, inputShape, time }              -> tinybench stats of await session.run
//   { kind: 'load', model, inputName, inputShape, concurrency, seconds } -> closed-loop throughput/latency
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';

/** Voluntary context switches of every thread of this process (as bench/lib/process.ts). */
function voluntarySwitches() {
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      total += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const job = JSON.parse(process.argv[2]);

const session = await ort.InferenceSession.create(job.model, { intraOpNumThreads: job.intraOpThreads ?? 0 });
const size = job.inputShape.reduce((a, b) => a * b, 1);
const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
const feeds = { [job.inputName]: new ort.Tensor('float32', data, job.inputShape) };
await session.run(feeds);

if (job.kind === 'micro') {
  const bench = new Bench({ time: job.time, warmupTime: 200 });
  bench.add('onnxruntime-node', async () => {
    await session.run(feeds);
  });
  await bench.run();
  const r = bench.tasks[0].result;
  process.stdout.write(JSON.stringify({ mean_us: r.latency.mean * 1000, p50_us: r.latency.p50 * 1000, p99_us: r.latency.p99 * 1000, samples: r.latency.samples.length }));
} else {
  // Closed loop: `concurrency` outstanding requests for `seconds`, latency per request.
  const latencies = [];
  let done = 0;
  const end = performance.now() + job.seconds * 1000;
  async function client() {
    while (performance.now() < end) {
      const t = performance.now();
      await session.run(feeds);
      latencies.push(performance.now() - t);
      done++;
    }
  }
  const start = performance.now();
  const switches = voluntarySwitches();
  await Promise.all(Array.from({ length: job.concurrency }, client));
  const elapsed = (performance.now() - start) / 1000;
  const vcsw = voluntarySwitches() - switches;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 1000;
  process.stdout.write(JSON.stringify({ requests: done, throughput_per_s: done / elapsed, p50_us: pct(0.5), p99_us: pct(0.99), vcsw_per_req: vcsw / Math.max(1, done) }));
}
