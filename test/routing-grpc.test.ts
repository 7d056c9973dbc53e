// Routes over gRPC: the same stage serves them, so a ModelInfer to a route is answered by its target
// (model_name, model_version) with the decision in the response parameters; sticky keys and pins are
// read from the call's metadata.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveGrpc, type GrpcTestServer } from './helpers/grpc-server.js';
import { expectStatus } from './helpers/grpc-client.js';
import { routingRepo, type RoutingRepo } from './helpers/routing-kit.js';

const request = (model: string, id?: string) => ({
  model_name: model,
  ...(id ? { id } : {}),
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [0, 0, 0, 0] } }],
});

describe('routes over gRPC', () => {
  let repo: RoutingRepo;
  let server: GrpcTestServer;

  beforeAll(async () => {
    repo = routingRepo({ a: 1, b: 2 }, { r: { targets: [{ model: 'a', weight: 50 }, { model: 'b', weight: 50 }], sticky: { header: 'x-user' }, allow_pin: true } });
    server = await serveGrpc({ modelRepository: repo.root });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  it('answers with the target and names the decision in the response parameters', async () => {
    const res = await server.client.infer(request('r', 'g1'), { metadata: { 'x-user': 'alice' } });
    expect(['a', 'b']).toContain(res.model_name);
    expect(res.model_version).toBe('1');
    expect(res.parameters.tensorgate_target.string_param).toBe(res.model_name);
    expect(res.parameters.tensorgate_route.string_param).toBe('r');
    expect(res.parameters.tensorgate_reason.string_param).toBe('sticky');
  });

  it('a metadata key is the sticky key; a metadata pin chooses the target', async () => {
    for (const user of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) {
      const first = (await server.client.infer(request('r'), { metadata: { 'x-user': user } })).model_name;
      for (let i = 0; i < 5; i++) expect((await server.client.infer(request('r'), { metadata: { 'x-user': user } })).model_name).toBe(first);
    }
    const pinned = await server.client.infer(request('r'), { metadata: { 'tensorgate-target': 'b', 'x-user': 'u1' } });
    expect(pinned.model_name).toBe('b');
    expect(pinned.parameters.tensorgate_reason.string_param).toBe('pinned');
    await expectStatus(server.client.infer(request('r'), { metadata: { 'tensorgate-target': 'zzz' } }), 3, /has no target 'zzz'/);
  });
});
