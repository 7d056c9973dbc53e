// The in-process engine's closed loop in its own process, for benchmarks that compare a server with
// the engine it wraps (bench:http): argv[2] is a JSON job { model, dims, concurrency, seconds,
// intraOpThreads, maxBatchSize }; prints the measure as JSON.
import { Engine } from '../src/engine/index.js';
import { closedLoop } from './lib/closed-loop.js';

const job = JSON.parse(process.argv[2]!) as { model: string; dims: number[]; concurrency: number; seconds: number; intraOpThreads: number; maxBatchSize: number };
const engine = Engine.create({ intraOpThreads: job.intraOpThreads, interOpThreads: 1 });
const model = await engine.load(job.model, { maxBatchSize: job.maxBatchSize, dynamicBatching: job.maxBatchSize > 0 });
const result = await closedLoop(model, job.dims, job.concurrency, job.seconds);
await model.unload();
process.stdout.write(JSON.stringify(result));
