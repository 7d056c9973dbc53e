// The live status page: GET /status (the JSON it polls) and GET / rendered and updating in a real
// headless Chromium (Debian's chromium through playwright-core; skipped with a message without it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/onnx/models.js';
import { chromiumAvailable, launchChromium, type Browser } from './helpers/browser.js';
import { putConfig } from './helpers/fixtures.js';
import { get, makeRepository, post, serve, until, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';

const X = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] });

describe('status', () => {
  let server: TestServer;
  let port: number;
  let load: { stop: boolean; done: Promise<void> } | undefined;

  beforeAll(async () => {
    const repo = makeRepository({
      tiny: { bytes: tinyModel(), config: { max_batch_size: 8, monitoring: { reference: { learn_rows: 50 }, window_rows: 100, min_rows: 50 } } },
      cached: { bytes: tinyModel(), config: { response_cache: { enable: true } } },
      broken: { bytes: tinyModel(), config: { monitoring: { inputs: ['nope'] } } },
    });
    putConfig(repo, 'split', { platform: 'tensorgate_route', routing: { targets: [{ model: 'tiny', weight: 90 }, { model: 'cached', weight: 10 }] } });
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo, cache: ['local,size=1MiB'] });
    port = server.port;
  });
  afterAll(async () => {
    if (load) {
      load.stop = true;
      await load.done;
    }
    await server.stop();
  });

  /** Light closed-loop traffic (a few requests at a time) until stopped. */
  function startLoad(): void {
    const state = { stop: false, done: Promise.resolve() };
    state.done = (async () => {
      while (!state.stop) await Promise.all([post(port, '/v2/models/tiny/infer', X), post(port, '/v2/models/cached/infer', X)]);
    })();
    load = state;
  }

  it('GET /status: models, states, rates and quantiles over the window, cache, drift, process', async () => {
    for (let i = 0; i < 20; i++) await post(port, '/v2/models/tiny/infer', X);
    const first = (await get(port, '/status')).json();
    expect(first.models.map((m: { name: string; kind: string }) => `${m.name}:${m.kind}`)).toEqual(['broken:model', 'cached:model', 'split:route', 'tiny:model']);
    const tiny = first.models.find((m: { name: string }) => m.name === 'tiny');
    expect(tiny.state).toBe('READY');
    expect(tiny.versions[0].rps).toBeNull(); // one reading: no rate yet
    expect(tiny.versions[0].latency_total.p50_ms).toBeGreaterThan(0);
    const broken = first.models.find((m: { name: string }) => m.name === 'broken');
    expect(broken.state).toBe('UNAVAILABLE');
    expect(broken.reason).toContain('monitoring.inputs[0]');
    await new Promise((r) => setTimeout(r, 600));
    for (let i = 0; i < 30; i++) await post(port, '/v2/models/tiny/infer', X);
    for (let i = 0; i < 4; i++) await post(port, '/v2/models/cached/infer', X);
    const r = await get(port, '/status');
    expect(r.headers['cache-control']).toBe('no-store');
    const s = r.json();
    const v = s.models.find((m: { name: string }) => m.name === 'tiny').versions[0];
    expect(v.version).toBe('1');
    expect(v.rps).toBeGreaterThan(0);
    expect(v.errors_per_s).toBe(0);
    expect(v.latency.p50_ms).toBeGreaterThan(0);
    expect(v.latency.p99_ms).toBeGreaterThanOrEqual(v.latency.p50_ms);
    expect(v.latency.p999_ms).toBeGreaterThanOrEqual(v.latency.p99_ms);
    expect(v.batch.mean).toBe(1);
    expect(v.batch.sizes).toEqual({ 1: 30 });
    expect(v.queue).toMatchObject({ inflight: 0 });
    expect(v.cache).toBeNull();
    expect(v.drift).toMatchObject({ state: 'monitoring', detected: false, features: 32 });
    const cached = s.models.find((m: { name: string }) => m.name === 'cached').versions[0];
    expect(cached.cache.hit_ratio).toBe(0.75); // 4 identical requests in the window: all but the first hit
    expect(s.server).toMatchObject({ ready: false, draining: false, tracing: { level: 'OFF', rate: '1000' } }); // 'broken' keeps it from ready
    expect(s.process.rss_bytes).toBeGreaterThan(0);
    expect(s.machine.memory_total_bytes).toBeGreaterThan(0);
    expect(s.gpus).toEqual([]);
    expect(s.routes).toEqual([{ name: 'split', targets: [{ target: 'tiny', weight: 90 }, { target: 'cached', weight: 10 }] }]);
    expect(s.models.find((m: { name: string }) => m.name === 'split').versions).toEqual([]); // its traffic shows at its targets
  });

  it.skipIf(!chromiumAvailable())('renders in Chromium and updates live', async () => {
    const page0 = await get(port, '/');
    expect(page0.status).toBe(200);
    expect(page0.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page0.headers['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(page0.text()).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/); // self-contained
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`http://127.0.0.1:${port}/?interval=250`);
      const tiny = page.locator('[data-model="tiny"]');
      await tiny.waitFor();
      expect(await tiny.locator('[data-field="state"]').textContent()).toBe('READY');
      expect(await page.locator('[data-model="broken"] .reason').textContent()).toContain("the model has no input 'nope'");
      expect(await page.locator('#ready').textContent()).toBe('not ready');
      startLoad();
      // Live: the update counter moves and the request rate shows traffic.
      const updates = Number(await page.locator('body').getAttribute('data-updates'));
      await until(async () => Number(await page.locator('body').getAttribute('data-updates')) >= updates + 3, 'three more updates', 15_000, 50);
      await until(async () => Number(await tiny.locator('[data-field="rps"]').textContent()) > 0, 'a request rate', 15_000, 50);
      expect(await tiny.locator('[data-field="p99"]').textContent()).toMatch(/^\d/);
      expect(await tiny.locator('[data-field="drift"]').textContent()).toBe('no drift');
      await until(async () => /^\d+%$/.test((await page.locator('[data-model="cached"] [data-field="cache"]').textContent()) ?? ''), 'a cache hit ratio', 15_000, 50);
      expect(await tiny.locator('svg.spark').count()).toBe(2);
      expect(await page.locator('[data-route="split"] td').nth(3).textContent()).toBe('tiny 90 · cached 10');
      expect(await page.locator('[data-route="split"] td').nth(1).textContent()).toBe('READY');
      expect(await page.locator('[data-model="split"]').count()).toBe(0); // a route is not a model card
      expect(problems.filter((p) => !/Failed to load resource/.test(p))).toEqual([]);
    } finally {
      await browser?.close();
    }
  });
});

if (!chromiumAvailable()) console.warn('chromium is not installed: the status page browser test is skipped (apt-get install -y chromium)');
