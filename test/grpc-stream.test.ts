// ModelStreamInfer over a real port: 1,000 interleaved requests to different models on one stream,
// each answered with its own id and values; failed requests answered with error_message (and their
// id) while the stream stays open; half-close ending the stream after the last answer; a client's
// cancel aborting every request still queued; a client slower than the server; per-message metrics.
import { status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import { makeRepository, ONE_THREAD, until } from './helpers/fixtures.js';
import { bytesOf, decodeStreamResponse, encodeInferRequest, f32, outputsOf } from './helpers/grpc-client.js';
import { occupyGrpc, serveGrpc, slowGrpcRequest, type GrpcTestServer } from './helpers/grpc-server.js';
import { get, slowModelBytes, sumDiffModel } from './helpers/http-server.js';

const repo = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  id_int64: { bytes: identityModel(ElemType.INT64, ['batch', 2]) },
  big: { bytes: identityModel(ElemType.FLOAT, ['batch', 'n']) },
  sumdiff: { bytes: sumDiffModel() },
  tiny: { bytes: tinyModel() },
  slow_stream: { bytes: slowModelBytes(150), config: { max_batch_size: 1, dynamic_batching: {}, parameters: ONE_THREAD } },
});

interface Finished {
  answers: any[];
  status: StatusObject;
}

/** Collects a stream's answers (decoded) until it ends with a status (OK or not) and every answer is read. */
function collect(stream: ClientDuplexStream<Buffer, Buffer>): Promise<Finished> {
  const answers: any[] = [];
  stream.on('data', (b: Buffer) => answers.push(decodeStreamResponse(b)));
  stream.on('error', () => undefined); // the status says it all
  return new Promise((resolve) => {
    let ended = false;
    let final: StatusObject | undefined;
    stream.on('end', () => {
      ended = true;
      if (final) resolve({ answers, status: final });
    });
    stream.on('status', (s: StatusObject) => {
      final = s;
      if (ended) resolve({ answers, status: s });
    });
  });
}

/** Request i of a mix of models, and a check of its answer. */
function mixed(i: number): { request: object; check(answer: any): void } {
  const id = `r${i}`;
  switch (i % 5) {
    case 0:
      return {
        request: { model_name: 'id_fp32', id, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [i, i + 1, i + 2] } }] },
        check: (a) => expect(f32(outputsOf(a).y!.raw)).toEqual([i, i + 1, i + 2]),
      };
    case 1:
      return {
        request: { model_name: 'id_int64', id, inputs: [{ name: 'x', datatype: 'INT64', shape: [1, 2] }], raw_input_contents: [bytesOf(BigInt64Array.of(BigInt(i) << 40n, -BigInt(i)))] },
        check: (a) => expect(Array.from(new BigInt64Array(Uint8Array.from(outputsOf(a).y!.raw).buffer))).toEqual([BigInt(i) << 40n, -BigInt(i)]),
      };
    case 2: {
      const b = [1, 2, 3];
      return {
        request: {
          model_name: 'sumdiff',
          id,
          inputs: [
            { name: 'a', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [i, i, i] } },
            { name: 'b', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: b } },
          ],
          outputs: [{ name: 'diff' }],
        },
        check: (a) => expect(f32(outputsOf(a).diff!.raw)).toEqual([i - 1, i - 2, i - 3]),
      };
    }
    case 3:
      return {
        request: { model_name: 'tiny', id, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: new Array(16).fill(i) } }] },
        check: (a) => expect(f32(outputsOf(a).y!.raw)).toEqual(new Array(16).fill(i + 1)),
      };
    default:
      // Fails: the answer carries the error and the id, and the stream goes on.
      return {
        request: { model_name: 'id_fp32', id, inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 3], contents: { int_contents: [1, 2, 3] } }] },
        check: () => undefined,
      };
  }
}

describe('gRPC ModelStreamInfer', () => {
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: repo });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 1,000 interleaved requests to different models, each with its own id and values; errors keep the stream open', async () => {
    const N = 1000;
    const stream = server.client.stream();
    const done = collect(stream);
    for (let i = 0; i < N; i++) stream.write(encodeInferRequest(mixed(i).request));
    stream.end();
    const { answers, status: s } = await done;
    expect(s.code).toBe(status.OK);
    expect(answers).toHaveLength(N);
    const seen = new Set<string>();
    for (const a of answers) {
      const id: string = a.infer_response.id;
      const i = Number(id.slice(1));
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      if (i % 5 === 4) {
        expect(a.error_message).toMatch(/^input 'x'.*INT32/);
        expect(a.infer_response.outputs).toEqual([]);
      } else {
        expect(a.error_message, id).toBe('');
        expect(a.infer_response.model_version).toBe('1');
        mixed(i).check(a.infer_response);
      }
    }
    expect(seen.size).toBe(N);
  });

  it('half-close ends the stream after the last answer, even with requests still queued', async () => {
    const stream = server.client.stream();
    const done = collect(stream);
    for (let i = 0; i < 3; i++) stream.write(encodeInferRequest(slowGrpcRequest('slow_stream', i, `s${i}`)));
    stream.end();
    const { answers, status: s } = await done;
    expect(s.code).toBe(status.OK);
    expect(answers.map((a) => a.infer_response.id).sort()).toEqual(['s0', 's1', 's2']);
    for (const a of answers) expect(f32(outputsOf(a.infer_response).y!.raw)[0]).toBe(Number(a.infer_response.id.slice(1)));
  });

  it("a client's cancel aborts every request it has queued: none of them runs", async () => {
    const model = server.model('slow_stream');
    const before = model.stats();
    const { running } = await occupyGrpc(server, 'slow_stream');
    const stream = server.client.stream();
    const done = collect(stream);
    for (let i = 0; i < 3; i++) stream.write(encodeInferRequest(slowGrpcRequest('slow_stream', i, `c${i}`)));
    await until(() => model.stats().pending === 4, 'three stream requests queued', 10_000);
    stream.cancel();
    expect((await done).status.code).toBe(status.CANCELLED);
    await running;
    await until(() => model.stats().pending === 0, 'queue empty', 10_000);
    const after = model.stats();
    expect(after.inferenceCount - before.inferenceCount).toBe(1); // the blocker only
    expect(after.failures.cancelled - before.failures.cancelled).toBe(3);
    const metrics = (await get(server.httpPort, '/metrics')).text();
    expect(metrics).toMatch(/^tensorgate_grpc_requests_total\{method="ModelStreamInfer",kind="stream",code="CANCELLED"\} 3$/m);
  });

  it('a client slower than the server gets every answer (reading pauses, then resumes)', async () => {
    const n = 64 * 1024; // 256 KiB per answer, far past the stream's buffers
    const stream = server.client.stream();
    const done = collect(stream);
    stream.pause();
    const data = Buffer.alloc(n * 4, 0x3f);
    for (let i = 0; i < 64; i++) {
      stream.write(encodeInferRequest({ model_name: 'big', id: `b${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, n] }], raw_input_contents: [data] }));
    }
    stream.end();
    await new Promise((r) => setTimeout(r, 200));
    stream.resume();
    const { answers, status: s } = await done;
    expect(s.code).toBe(status.OK);
    expect(answers).toHaveLength(64);
    for (const a of answers) expect(outputsOf(a.infer_response).y!.raw.equals(data)).toBe(true);
  });

  it('counts every message in tensorgate_grpc_requests_total{kind="stream"}', async () => {
    const metrics = (await get(server.httpPort, '/metrics')).text();
    const count = (code: string) => Number(new RegExp(`^tensorgate_grpc_requests_total\\{method="ModelStreamInfer",kind="stream",code="${code}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('OK')).toBeGreaterThanOrEqual(800 + 3 + 64);
    expect(count('INVALID_ARGUMENT')).toBe(200);
  });
});
