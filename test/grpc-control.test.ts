// The gRPC control plane over a real port, with a client that encodes by protobufjs reflection:
// health (Triton's and grpc.health.v1), metadata, config, statistics and the repository API with its
// admin token, each checked against what the HTTP front answers for the same question; the method
// list against the proto; gRPC metrics.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFERENCE_SERVICE } from '../src/grpc/service-definition.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import { makeRepository } from './helpers/fixtures.js';
import { expectStatus, root as protoRoot } from './helpers/grpc-client.js';
import { serveGrpc, type GrpcTestServer } from './helpers/grpc-server.js';
import { get, post, sumDiffModel } from './helpers/http-server.js';

const repo = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  sumdiff: { bytes: sumDiffModel() },
  multi: { versions: { 1: tinyModel(), 2: tinyModel() }, config: { version_policy: { all: {} } } },
});

/** JSON numbers as the decimal strings the gRPC client decodes 64-bit fields into. */
const int64Strings = (value: unknown): unknown => JSON.parse(JSON.stringify(value), (_k, v: unknown) => (typeof v === 'number' ? String(v) : v));
const x3 = (values: number[]) => ({ model_name: 'id_fp32', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: values } }] });

describe('gRPC control plane', () => {
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: repo });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves every RPC of proto/grpc_service.proto, with its streaming kind', () => {
    const methods = protoRoot.lookupService('inference.GRPCInferenceService').methods;
    expect(Object.keys(INFERENCE_SERVICE).sort()).toEqual(Object.keys(methods).sort());
    for (const [name, def] of Object.entries(INFERENCE_SERVICE)) {
      expect(def.path).toBe(`/inference.GRPCInferenceService/${name}`);
      expect([def.requestStream, def.responseStream]).toEqual([methods[name]!.requestStream ?? false, methods[name]!.responseStream ?? false]);
    }
  });

  it('ServerLive, ServerReady and Health/Check; an unknown health service is NOT_FOUND; Watch is UNIMPLEMENTED', async () => {
    const c = server.client;
    expect(await c.unary('ServerLive')).toEqual({ live: true });
    expect(await c.unary('ServerReady')).toEqual({ ready: true });
    expect(await c.unary('Check', { service: '' })).toEqual({ status: 'SERVING' });
    expect(await c.unary('Check', { service: 'inference.GRPCInferenceService' })).toEqual({ status: 'SERVING' });
    await expectStatus(c.unary('Check', { service: 'no.such.Service' }), status.NOT_FOUND, "unknown service 'no.such.Service'");
    await expectStatus(c.raw('/grpc.health.v1.Health/Watch', Buffer.alloc(0)), status.UNIMPLEMENTED);
    await expectStatus(c.raw('/inference.GRPCInferenceService/SystemSharedMemoryStatus', Buffer.alloc(0)), status.UNIMPLEMENTED);
  });

  it('ServerMetadata and ModelMetadata say what GET /v2 and GET /v2/models/{m} say', async () => {
    const c = server.client;
    expect(await c.unary('ServerMetadata')).toEqual((await get(server.httpPort, '/v2')).json());
    for (const [name, version] of [['id_fp32', ''], ['sumdiff', ''], ['multi', ''], ['multi', '1']] as const) {
      const path = `/v2/models/${name}${version ? `/versions/${version}` : ''}`;
      const http = (await get(server.httpPort, path)).json();
      expect(await c.unary('ModelMetadata', { name, version })).toEqual(int64Strings(http));
    }
    await expectStatus(c.unary('ModelMetadata', { name: 'nope' }), status.NOT_FOUND, /^unknown model 'nope'/);
    await expectStatus(c.unary('ModelMetadata', { name: 'multi', version: '9' }), status.NOT_FOUND, "model 'multi' has no served version 9");
  });

  it('ModelReady per model and version; an unknown model is NOT_FOUND', async () => {
    const c = server.client;
    expect(await c.unary('ModelReady', { name: 'id_fp32' })).toEqual({ ready: true });
    expect(await c.unary('ModelReady', { name: 'multi', version: '2' })).toEqual({ ready: true });
    expect(await c.unary('ModelReady', { name: 'multi', version: '3' })).toEqual({ ready: false });
    await expectStatus(c.unary('ModelReady', { name: 'nope' }), status.NOT_FOUND, /^unknown model 'nope'/);
  });

  it('ModelConfig is the effective config of GET .../config as a ModelConfig message', async () => {
    const http = (await get(server.httpPort, '/v2/models/sumdiff/config')).json();
    const { config } = await server.client.unary('ModelConfig', { name: 'sumdiff' });
    expect(config).toMatchObject({
      name: 'sumdiff',
      platform: http.platform,
      backend: http.backend,
      max_batch_size: http.max_batch_size,
      input: http.input.map((i: any) => ({ name: i.name, data_type: i.data_type, dims: i.dims.map(String) })),
      output: http.output.map((o: any) => ({ name: o.name, data_type: o.data_type, dims: o.dims.map(String) })),
    });
    await expectStatus(server.client.unary('ModelConfig', { name: 'nope' }), status.NOT_FOUND);
  });

  it('ModelStatistics: one model, one version, every model; as GET .../stats; counts gRPC inferences', async () => {
    const c = server.client;
    const before = await c.unary('ModelStatistics', { name: 'id_fp32' });
    await c.infer(x3([1, 2, 3]));
    await c.infer(x3([4, 5, 6]));
    const after = await c.unary('ModelStatistics', { name: 'id_fp32' });
    const count = (s: any) => Number(s.model_stats[0].inference_stats.success.count);
    expect(count(after) - count(before)).toBe(2);
    expect(after).toEqual(int64Strings((await get(server.httpPort, '/v2/models/id_fp32/stats')).json()));
    const one = await c.unary('ModelStatistics', { name: 'multi', version: '1' });
    expect(one.model_stats.map((s: any) => [s.name, s.version])).toEqual([['multi', '1']]);
    const all = await c.unary('ModelStatistics', { name: '' });
    expect(all.model_stats.map((s: any) => `${s.name}/${s.version}`).sort()).toEqual(['id_fp32/1', 'multi/1', 'multi/2', 'sumdiff/1']);
    await expectStatus(c.unary('ModelStatistics', { name: 'nope' }), status.NOT_FOUND);
  });

  it('counts each call in tensorgate_grpc_requests_total by method, kind and code', async () => {
    const c = server.client;
    await c.unary('ServerLive');
    await expectStatus(c.unary('ModelReady', { name: 'nope' }), status.NOT_FOUND);
    await c.infer(x3([1, 1, 1]));
    const text = (await get(server.httpPort, '/metrics')).text();
    expect(text).toMatch(/^tensorgate_grpc_requests_total\{method="ServerLive",kind="unary",code="OK"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tensorgate_grpc_requests_total\{method="ModelReady",kind="unary",code="NOT_FOUND"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tensorgate_grpc_requests_total\{method="ModelInfer",kind="unary",code="OK"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tensorgate_grpc_request_duration_seconds_count\{method="ModelInfer"\} [1-9]\d*$/m);
  });
});

describe('gRPC repository API (explicit control, admin token)', () => {
  const TOKEN = 'let-me-in';
  const auth = { metadata: { authorization: `Bearer ${TOKEN}` } };
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: repo, modelControlMode: 'explicit', loadModel: ['id_fp32'], adminToken: TOKEN });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('RepositoryIndex, RepositoryModelLoad and RepositoryModelUnload need the admin token', async () => {
    const c = server.client;
    const message = 'the repository API needs an admin token: Authorization: Bearer <token>';
    for (const metadata of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Array<Record<string, string>>) {
      await expectStatus(c.unary('RepositoryIndex', {}, { metadata }), status.UNAUTHENTICATED, message);
      await expectStatus(c.unary('RepositoryModelLoad', { model_name: 'sumdiff' }, { metadata }), status.UNAUTHENTICATED, message);
      await expectStatus(c.unary('RepositoryModelUnload', { model_name: 'id_fp32' }, { metadata }), status.UNAUTHENTICATED, message);
    }
    expect(await c.unary('ModelReady', { name: 'id_fp32' })).toEqual({ ready: true });
  });

  it('RepositoryIndex lists what POST /v2/repository/index lists (ready only on request)', async () => {
    const c = server.client;
    const http = (await post(server.httpPort, '/v2/repository/index', {}, { authorization: `Bearer ${TOKEN}` })).json();
    const { models } = await c.unary('RepositoryIndex', {}, auth);
    expect(models).toEqual(http.map((m: any) => ({ version: '', reason: '', ...m })));
    const ready = await c.unary('RepositoryIndex', { ready: true }, auth);
    expect(ready.models.map((m: any) => m.name)).toEqual(['id_fp32']);
  });

  it('RepositoryModelLoad loads, with Triton\'s `config` parameter replacing the config; Unload unloads', async () => {
    const c = server.client;
    const config = JSON.stringify({ max_batch_size: 8, dynamic_batching: { max_queue_delay_microseconds: 100 } });
    expect(await c.unary('RepositoryModelLoad', { model_name: 'sumdiff', parameters: { config: { string_param: config } } }, auth)).toEqual({});
    expect(await c.unary('ModelReady', { name: 'sumdiff' })).toEqual({ ready: true });
    const { config: loaded } = await c.unary('ModelConfig', { name: 'sumdiff' });
    expect(loaded.max_batch_size).toBe(8);
    expect(loaded.dynamic_batching.max_queue_delay_microseconds).toBe('100');
    expect(await c.unary('RepositoryModelUnload', { model_name: 'sumdiff' }, auth)).toEqual({});
    expect(await c.unary('ModelReady', { name: 'sumdiff' })).toEqual({ ready: false });
    const { models } = await c.unary('RepositoryIndex', {}, auth);
    expect(models.find((m: any) => m.name === 'sumdiff')).toMatchObject({ state: 'UNAVAILABLE' });
  });

  it('refuses model files, a config that is not a JSON string, and unknown models', async () => {
    const c = server.client;
    const load = (parameters: object, model_name = 'sumdiff') => c.unary('RepositoryModelLoad', { model_name, parameters }, auth);
    await expectStatus(load({ 'file:1/model.onnx': { bytes_param: Buffer.from('onnx') } }), status.INVALID_ARGUMENT, "parameter 'file:1/model.onnx': model files in a load request are not supported");
    await expectStatus(load({ config: { bool_param: true } }), status.INVALID_ARGUMENT, "parameter 'config' must be a JSON string");
    await expectStatus(load({ config: { string_param: '{nope' } }), status.INVALID_ARGUMENT, /^parameter 'config' is not valid JSON/);
    await expectStatus(load({}, 'no_such_model'), status.NOT_FOUND, /no_such_model/);
    expect(await c.unary('ModelReady', { name: 'sumdiff' })).toEqual({ ready: false });
  });
});
