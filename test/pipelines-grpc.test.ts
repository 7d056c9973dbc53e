// JavaScript models and ensembles over gRPC (ModelInfer), built from the same request objects as the
// HTTP tests: answers, per-request error kinds as gRPC status codes, a hung execute ended by the call's
// deadline, a queued request cancelled by the client never running, and a refused call cycle.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '../src/onnx/models.js';
import { putModel, tempRepo } from './helpers/fixtures.js';
import { expectStatus, f32, failure, outputsOf } from './helpers/grpc-client.js';
import { serveGrpc, type GrpcTestServer } from './helpers/grpc-server.js';
import { fp32, grpcRequest, putEnsemble, putJsModel, tensor, until, v2Request } from './helpers/pipelines.js';

const BEHAVIOURS = readFileSync(new URL('./fixtures/js-models/behaviours.mjs', import.meta.url), 'utf8');
const CALLER = readFileSync(new URL('./fixtures/js-models/caller.mjs', import.meta.url), 'utf8');
const STEP = readFileSync(new URL('./fixtures/js-models/step.mjs', import.meta.url), 'utf8');
const io = { max_batch_size: 8, input: [tensor('x', 'TYPE_FP32', [3])], output: [tensor('y', 'TYPE_FP32', [3]), tensor('n', 'TYPE_INT32', [1])] };
const stepIo = (op: string) => ({ max_batch_size: 8, input: [tensor('x', 'TYPE_FP32', [3])], output: [tensor('y', 'TYPE_FP32', [3]), tensor('span', 'TYPE_FP64', [2])], parameters: { op: { string_value: op } } });

describe('JavaScript models and ensembles over gRPC', () => {
  const repo = tempRepo();
  const log = join(repo.staging, 'solo.log');
  let server: GrpcTestServer;

  beforeAll(async () => {
    const root = repo.root;
    putJsModel(root, 'solo', BEHAVIOURS, { ...io, parameters: { log: { string_value: log } } });
    putJsModel(root, 'self1', CALLER, { ...io, output: [tensor('y', 'TYPE_FP32', [3]), tensor('info', 'TYPE_STRING', [1])] });
    putJsModel(root, 'double', STEP, stepIo('double'));
    putJsModel(root, 'plus1', STEP, stepIo('plus1'));
    putModel(root, 'add', 1, addModel());
    putEnsemble(root, 'mix', {
      max_batch_size: 8,
      input: [tensor('IN', 'TYPE_FP32', [3])],
      output: [tensor('OUT', 'TYPE_FP32', [3])],
      ensemble_scheduling: {
        step: [
          { model_name: 'double', input_map: { x: 'IN' }, output_map: { y: 't2' } },
          { model_name: 'plus1', input_map: { x: 'IN' }, output_map: { y: 't1' } },
          { model_name: 'add', input_map: { a: 't2', b: 't1' }, output_map: { sum: 'OUT' } },
        ],
      },
    });
    server = await serveGrpc({ modelRepository: root });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  const call = (model: string, body: ReturnType<typeof v2Request>, opts: Parameters<GrpcTestServer['client']['infer']>[1] = {}) => server.client.infer(grpcRequest(model, body), opts);

  it('answers a JavaScript model and an ensemble as over HTTP', async () => {
    const js = outputsOf(await call('solo', v2Request(fp32([[1, 2, 3]]))));
    expect(f32(js.y!.raw)).toEqual([2, 4, 6]);
    const ens = outputsOf(await call('mix', v2Request(fp32([[1, 2, 3]], 'IN'))));
    expect(f32(ens.OUT!.raw)).toEqual([4, 7, 10]);
  });

  it('gives each kind of model failure its gRPC status', async () => {
    await expectStatus(call('solo', v2Request(fp32([[1, 2, 3]]), { parameters: { mode: 'invalid' } })), status.INVALID_ARGUMENT, 'x must be positive');
    await expectStatus(call('solo', v2Request(fp32([[1, 2, 3]]), { parameters: { mode: 'throw' } })), status.INTERNAL, 'execute blew up');
    await expectStatus(
      call('mix', v2Request(fp32([[1, 2, 3]], 'IN'), { parameters: { fail_step: 'plus1' } })),
      status.INVALID_ARGUMENT,
      "ensemble 'mix' step[1] (model 'plus1'): plus1 refuses this input",
    );
    await expectStatus(call('self1', v2Request(fp32([[1, 2, 3]]), { parameters: { call: 'self1', kind: 'js', inner: { stop: true } } })), status.UNAVAILABLE, /call chain: self1 -> self1/);
  });

  it("a hung execute is ended by the call's deadline (DEADLINE_EXCEEDED), and the model answers the next call", async () => {
    const err = await failure(call('solo', v2Request(fp32([[1, 2, 3]]), { parameters: { mode: 'hang' } }), { deadlineMs: 300 }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    // The worker is stopped after the grace and replaced; the next call waits for it.
    const next = outputsOf(await call('solo', v2Request(fp32([[1, 1, 1]]))));
    expect(f32(next.y!.raw)).toEqual([2, 2, 2]);
  });

  it('a queued call the client cancels never runs', async () => {
    const busy = call('solo', v2Request(fp32([[1, 2, 3]]), { id: 'busy', parameters: { sleep_ms: 600 } }));
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('busy'), 'the first call runs');
    const controller = new AbortController();
    const cancelled = failure(call('solo', v2Request(fp32([[1, 2, 3]]), { id: 'cancelled' }), { signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect((await cancelled).code).toBe(status.CANCELLED);
    await busy;
    await call('solo', v2Request(fp32([[1, 2, 3]]), { id: 'after' }));
    const executed = readFileSync(log, 'utf8').trim().split('\n');
    expect(executed).toContain('busy');
    expect(executed).toContain('after');
    expect(executed).not.toContain('cancelled');
  });
});
