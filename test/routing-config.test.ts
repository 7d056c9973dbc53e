// Routes as models in the repository: configs validated at load with errors naming the file and the
// field; targets checked against the repository (unknown models, routes where models are needed,
// cycles named, depth above 4 refused); no version directory or an empty one; readiness follows the
// primary target; explicit loads bring the targets; nested routes; a reload keeps the live state.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { offsetModel } from '../src/onnx/models.js';
import { parseModelConfig } from '../src/repository/config-file.js';
import { ModelRepository } from '../src/repository/repository.js';
import { putConfig, putModel, tempRepo, until } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { RecordingLogger } from './helpers/repo-fixtures.js';
import { inferBody, routeConfig } from './helpers/routing-kit.js';

const invalid = (config: Record<string, unknown>): string => {
  try {
    parseModelConfig(config, 'r/config.json', 'r');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
};

describe('route configs are validated at load, errors naming the file and the field', () => {
  it.each([
    [{ platform: 'tensorgate_route' }, /r\/config.json: routing: platform tensorgate_route needs a routing section/],
    [{ routing: { targets: [{ model: 'a' }] } }, /routing: routing is for platform tensorgate_route/],
    [routeConfig({ targets: [] }), /routing.targets: .*>=1|routing.targets/],
    [routeConfig({ targets: [{ model: 'a', wieght: 1 }] }), /routing.targets\[0\]: .*wieght/],
    [routeConfig({ targets: [{ model: 'a', weight: 1 }, { model: 'b' }] }), /routing.targets: give every target a weight, or none/],
    [routeConfig({ targets: [{ model: 'a' }, { model: 'a' }] }), /routing.targets\[1\]: two targets are named 'a'/],
    [routeConfig({ targets: [{ model: 'a' }], primary: 'b' }), /routing.primary: 'b' is not one of the targets \(a\)/],
    [routeConfig({ targets: [{ model: 'a', weight: 1 }, { model: 'b', weight: 1 }], bandit: { policy: 'ucb1' } }), /a bandit chooses the target: remove the weights/],
    [routeConfig({ targets: [{ model: 'a' }, { model: 'b' }], bandit: { policy: 'ucb1', epsilon: 0.2 } }), /epsilon and epsilon_decay are for policy epsilon_greedy/],
    [routeConfig({ targets: [{ model: 'a' }, { model: 'b', weight: 5 }], canary: { candidate: 'b' } }), /routing.targets\[1\].weight: the canary sets the candidate's weight/],
    [routeConfig({ targets: [{ model: 'a' }, { model: 'b' }], canary: { candidate: 'b', steps: [10, 5] } }), /routing.canary.steps: steps must increase/],
    [routeConfig({ targets: [{ model: 'a' }], sticky: { header: 'x', input: 'y' } }), /routing.sticky: exactly one of header, parameter or input/],
    [routeConfig({ targets: [{ model: 'a' }], fallback: {} }), /routing.fallback: a fallback needs targets or a static answer/],
    [{ ...routeConfig({ targets: [{ model: 'a' }] }), max_batch_size: 8 }, /max_batch_size: a route runs no model of its own/],
    [{ ...routeConfig({ targets: [{ model: 'a' }] }), response_cache: { enable: true } }, /response_cache: a route runs no model of its own/],
  ])('%j', (config, message) => {
    expect(invalid(config)).toMatch(message);
  });

  it('a valid config gets its defaults (steps, interval, threshold, gates)', () => {
    const c = parseModelConfig(routeConfig({ targets: [{ model: 'a' }, { model: 'b' }], canary: { candidate: 'b' } }), 'r/config.json', 'r');
    expect(c.routing!.canary).toMatchObject({ steps: [5, 10, 25, 50, 100], interval_s: 60, threshold: 2, gates: { min_requests: 20 } });
  });
});

describe('routes in a repository', () => {
  let repo: ModelRepository | undefined;
  let cleanup: (() => void) | undefined;
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await repo?.close();
    repo = undefined;
    cleanup?.();
  });

  const open = async (root: string, controlMode: 'none' | 'explicit' = 'none', startupModels: string[] = []) => {
    const logger = new RecordingLogger();
    repo = await ModelRepository.open({ root, engine: Engine.create(), controlMode, startupModels, logger });
    return logger;
  };
  const reason = (name: string) => repo!.index().find((e) => e.name === name)?.reason ?? '';

  it('names cycles and refuses routes nested deeper than 4; unknown targets and route targets where models are needed are refused', async () => {
    const t = tempRepo();
    cleanup = t.cleanup;
    putModel(t.root, 'm', 1, offsetModel({ offset: 1 }));
    putConfig(t.root, 'a', routeConfig({ targets: [{ model: 'b' }] }));
    putConfig(t.root, 'b', routeConfig({ targets: [{ model: 'm' }, { model: 'a' }] }));
    putConfig(t.root, 'd1', routeConfig({ targets: [{ model: 'd2' }] }));
    putConfig(t.root, 'd2', routeConfig({ targets: [{ model: 'd3' }] }));
    putConfig(t.root, 'd3', routeConfig({ targets: [{ model: 'd4' }] }));
    putConfig(t.root, 'd4', routeConfig({ targets: [{ model: 'd5' }] }));
    putConfig(t.root, 'd5', routeConfig({ targets: [{ model: 'm' }] }));
    putConfig(t.root, 'ghost', routeConfig({ targets: [{ model: 'nothere' }] }));
    putConfig(t.root, 'mirror', routeConfig({ targets: [{ model: 'm' }], shadow: { targets: [{ model: 'd5' }] } }));
    await open(t.root);
    expect(reason('a')).toMatch(/a\/config.json: routing.targets\[0\].model: routing cycle|routing cycle a -> b -> a/);
    expect(reason('a')).toContain('a -> b -> a');
    expect(reason('b')).toContain('b -> a -> b');
    expect(reason('d1')).toMatch(/routes nest deeper than 4: d1 -> d2 -> d3 -> d4 -> d5/);
    expect(repo!.modelReady('d2')).toBe(true); // d2 -> d3 -> d4 -> d5 -> m: four routes
    expect(reason('ghost')).toMatch(/ghost\/config.json: routing.targets\[0\].model: no model 'nothere' in the repository/);
    expect(reason('mirror')).toMatch(/routing.shadow.targets\[0\].model: 'd5' is a route; shadow and fallback targets must be models/);
  });

  it('needs no version directory (or an empty one); ready only while its primary target is', async () => {
    const t = tempRepo();
    cleanup = t.cleanup;
    putModel(t.root, 'm', 1, offsetModel({ offset: 1 }));
    putModel(t.root, 'other', 1, offsetModel({ offset: 2 }));
    putConfig(t.root, 'r', routeConfig({ targets: [{ model: 'other', weight: 0 }, { model: 'm', weight: 1 }], primary: 'm' }));
    putConfig(t.root, 'withdir', routeConfig({ targets: [{ model: 'm' }] }));
    mkdirSync(join(t.root, 'withdir', '1'));
    await open(t.root, 'explicit', ['r', 'withdir']);
    expect(repo!.index().filter((e) => e.state === 'READY').map((e) => e.name).sort()).toEqual(['m', 'other', 'r', 'withdir']); // targets loaded with the routes
    expect(repo!.modelReady('r')).toBe(true);
    expect(repo!.ready()).toBe(true);
    await repo!.unload('m');
    expect(repo!.modelReady('r')).toBe(false);
    expect(repo!.ready()).toBe(false); // r must be loaded, and it is not ready without its primary
    await repo!.load('m');
    expect(repo!.modelReady('r')).toBe(true);
  });

  it('routes of routes: the reply names the model that answered; each route on the way counts the request', async () => {
    const t = tempRepo();
    cleanup = t.cleanup;
    putModel(t.root, 'm', 1, offsetModel({ offset: 1 }));
    putModel(t.root, 'n', 1, offsetModel({ offset: 2 }));
    putConfig(t.root, 'inner', routeConfig({ targets: [{ model: 'm', weight: 0 }, { model: 'n', weight: 1 }] }));
    putConfig(t.root, 'outer', routeConfig({ targets: [{ model: 'inner' }] }));
    server = await serve(DEFAULT_ENGINE, { modelRepository: t.root });
    const res = await post(server.port, '/v2/models/outer/infer', inferBody(0));
    expect(res.status, res.text()).toBe(200);
    expect(res.json()).toMatchObject({ model_name: 'n', parameters: { tensorgate_route: 'inner', tensorgate_target: 'n' } });
    expect(res.headers['tensorgate-target']).toBe('n');
    expect((await get(server.port, '/v2/models/outer/routing')).json().targets[0].requests).toBe(1);
    expect((await get(server.port, '/v2/models/inner/routing')).json().targets[1].requests).toBe(1);
    expect((await get(server.port, '/v2/models/outer')).json().inputs[0].name).toBe('x');
  });

  it('a changed config reloads the route; an unchanged routing section keeps its live state; a bad static answer is refused naming the file', async () => {
    const t = tempRepo();
    cleanup = t.cleanup;
    putModel(t.root, 'm', 1, offsetModel({ offset: 1 }));
    putConfig(t.root, 'r', routeConfig({ targets: [{ model: 'm' }] }));
    server = await serve(DEFAULT_ENGINE, { modelRepository: t.root, modelControlMode: 'poll', repositoryPollSecs: 0.1 });
    for (let i = 0; i < 5; i++) await post(server.port, '/v2/models/r/infer', inferBody(0));
    const before = server.running.routing.route('r');
    const generation = server.running.repository.served('r')[0]!.generation;
    putConfig(t.root, 'r', `${JSON.stringify(routeConfig({ targets: [{ model: 'm' }] }))}\n`); // same routing, new bytes
    await until(() => server!.running.repository.served('r')[0]?.generation !== generation, 'the reload', 5000);
    expect(server.running.routing.route('r')).toBe(before);
    expect(before!.requests[0]).toBe(5);
    writeFileSync(join(t.root, 'r', 'static.json'), '{"outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 4], "data": [1, 2]}]}');
    putConfig(t.root, 'r', routeConfig({ targets: [{ model: 'm' }], fallback: { static: 'static.json' } }));
    await until(() => server!.running.repository.index().find((e) => e.name === 'r')?.reason?.includes('static'), 'the refused reload', 5000);
    expect(server.running.repository.index().find((e) => e.name === 'r')!.reason).toMatch(/routing.fallback.static: .*static.json: outputs\[0\].data: expected 4 elements for shape \[1,4\]/);
    expect((await post(server.port, '/v2/models/r/infer', inferBody(0))).status).toBe(200); // the loaded copy keeps serving
  });
});
