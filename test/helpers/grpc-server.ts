// Servers for the gRPC tests: `tensorgate serve` in-process through startServer(), with the HTTP front
// on an ephemeral port and the gRPC front on a free port picked first (--grpc-port 0 means off), and a
// client connected to it.
import { serveOptionsSchema, type ServeOptions } from '../../src/cli/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import type { Model } from '../../src/engine/index.js';
import { freePort, SLOW_SIZE, until } from './fixtures.js';
import { GrpcClient } from './grpc-client.js';

export interface GrpcTestServer {
  running: RunningServer;
  httpPort: number;
  grpcPort: number;
  client: GrpcClient;
  /** The engine model serving `name` (highest version unless given). */
  model(name: string, version?: string): Model;
  stop(): Promise<boolean>;
}

export async function serveGrpc(options: Partial<ServeOptions> & { modelRepository: string }): Promise<GrpcTestServer> {
  let running: RunningServer | undefined;
  // Another process may take the port between freePort() and listen(): try another.
  for (let attempt = 1; running === undefined; attempt++) {
    const grpcPort = await freePort();
    // Without the default admission deadline, as the HTTP helper (queues of slow models on purpose).
    const parsed = serveOptionsSchema.parse({ httpPort: 0, grpcPort, httpEngine: 'node', logLevel: 'silent', shutdownTimeout: 10, defaultRequestTimeout: 0, ...options });
    try {
      running = await startServer(parsed);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
  const server = running;
  const client = new GrpcClient(server.grpcPort!);
  let stopped: Promise<boolean> | undefined;
  return {
    running: server,
    httpPort: server.port,
    grpcPort: server.grpcPort!,
    client,
    model(name, version) {
      const served = server.repository.served(name, version);
      if (!served[0]) throw new Error(`model ${name} is not served`);
      return served[0].model as Model; // an ONNX version
    },
    stop: () =>
      (stopped ??= server.stop().finally(() => client.close())),
  };
}

// ---------------------------------------------------------------------------------------------
// Slow models (slowBatchModel: y = x, x FP32 [batch, SLOW_SIZE])

/** A ModelInferRequest (protobufjs object) for a slow model: one row of `fill`. */
export function slowGrpcRequest(model: string, fill: number, id?: string): object {
  return {
    model_name: model,
    ...(id !== undefined ? { id } : {}),
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, SLOW_SIZE], contents: { fp32_contents: new Array(SLOW_SIZE).fill(fill) } }],
  };
}

/**
 * Sends one request to a slow model and waits until its runner has taken it (queue.count grew), so
 * whatever is sent next queues behind it. Boxed: an async function returning a promise awaits it.
 */
export async function occupyGrpc(server: GrpcTestServer, name: string): Promise<{ running: Promise<any> }> {
  const model = server.model(name);
  const taken = model.stats().queue.count;
  const running = server.client.infer(slowGrpcRequest(name, -1));
  running.catch(() => undefined);
  await until(() => model.stats().queue.count > taken, `${name}: the runner takes the blocker`);
  return { running };
}
