// An HTTP worker thread (--http-threads): a uWS app listening on the server's port (the kernel spreads
// connections over every thread's socket, SO_REUSEPORT), serving the plain models' inferences itself
// through the native models the main thread loaded (attached by handle: loaded once per process),
// and handing every other request to the main thread. See pool.ts for the main thread's side.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { Engine } from '../../engine/index.js';
import { nativeBinding } from '../../engine/binding.js';
import { InferenceService } from '../../inference/index.js';
import { DecodeStage } from '../../inference/stages/decode.js';
import { EncodeStage } from '../../inference/stages/encode.js';
import { ExecuteStage } from '../../inference/stages/execute.js';
import { LatencyStage } from '../../inference/stages/latency.js';
import { AdmissionStage } from '../../inference/stages/admission.js';
import { ResolveStage } from '../../inference/stages/resolve.js';
import { BodyBudget } from '../body-budget.js';
import { HttpFront } from '../server.js';
import { waitFor } from '../transport.js';
import { Forwarder } from './forwarder.js';
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.js';
import { ServedTable } from './served-table.js';
import { WorkerMetrics } from './worker-metrics.js';
import { WorkerRouter } from './worker-router.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;
const post = (message: FromWorker): void => port.postMessage(message);
const logger = pino({ level: setup.logLevel }).child({ httpThread: setup.thread });

const engine = Engine.create({ eventLoopSpinMicroseconds: setup.eventLoopSpinMicroseconds, logger });
let epoch = 0;
const table = new ServedTable(engine, (generation, at) => post({ type: 'released', generation, epoch: at }));
const metrics = new WorkerMetrics(setup.thread, setup.latencyBuckets);
// The main thread's stages for a plain model (no trace, route, monitor or cache: those go to it).
const service = InferenceService.of([
  new LatencyStage(metrics),
  new ResolveStage(table),
  new DecodeStage(setup.decodeLimits),
  new AdmissionStage(setup.admission, (target) => table.admissionMemory(target)),
  new ExecuteStage(),
  new EncodeStage(),
]);
const router = new WorkerRouter(service, table, setup.maxBodyBytes, logger);
const forwarder = new Forwarder(port);
const front = new HttpFront({
  router,
  metrics,
  logger,
  host: setup.host,
  port: setup.port,
  httpEngine: 'uws',
  maxBodyBytes: setup.maxBodyBytes,
  limits: setup.transportLimits,
  budget: new BodyBudget(setup.bodyBudget.limit, setup.bodyBudget.memory),
  intercept: (req, signal) => (router.serves(req) ? undefined : forwarder.forward(req, signal)),
});

/**
 * Leaves nothing for Node's check at thread exit: this uWS build has no App.close(), and an idle
 * keep-alive connection it still polls would abort the process. Shut down, uWS closes them itself.
 */
async function closeConnections(timeoutMs: number): Promise<void> {
  const binding = nativeBinding();
  if (!binding.loopSockets || binding.loopSockets(false) === 0) return;
  binding.loopSockets(true);
  await waitFor(() => binding.loopSockets!(false), timeoutMs);
}

async function close(timeoutMs: number): Promise<void> {
  await front.close(timeoutMs);
  await closeConnections(Math.max(1000, timeoutMs));
  table.releaseAll(epoch);
  post({ type: 'closed', snapshot: metrics.snapshot() });
  process.exit(0); // this thread only
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'table':
      epoch = message.epoch;
      table.apply(message);
      break;
    case 'response':
      forwarder.answer(message.id, message.response);
      break;
    case 'metrics':
      post({ type: 'metrics', id: message.id, snapshot: metrics.snapshot() });
      break;
    case 'drain':
      router.draining = true;
      break;
    case 'stop-accepting':
      front.stopAccepting();
      break;
    case 'wait-drained':
      void front.drained(message.timeoutMs).then((drained) => post({ type: 'drained', id: message.id, drained }));
      break;
    case 'close':
      void close(message.timeoutMs);
      break;
  }
});

// An exception nothing caught: the thread goes down cleanly (its connections closed, its leases given
// back) rather than taking the process with it; the main thread logs it and starts another.
process.on('uncaughtException', (err) => {
  logger.fatal({ err: err.message, stack: err.stack }, 'HTTP thread failed');
  front.stopAccepting();
  void closeConnections(1000).finally(() => {
    table.releaseAll(epoch);
    process.exit(1);
  });
});

front.listen().then(
  (bound) => post({ type: 'listening', port: bound }),
  (err: unknown) => {
    post({ type: 'failed', message: (err as Error).message });
    port.close();
  },
);
