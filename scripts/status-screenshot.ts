// Generates docs/status-page.png, the README's picture of the live status page: a server with three
// models (a batching MLP under drift monitoring, a cached model, a model whose inputs have drifted) and
// a route rolling a canary out between two of them, light traffic for a few seconds, then headless
// Chromium captures the page.
//
//   npx tsx scripts/status-screenshot.ts [out.png]
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { serveOptionsSchema } from '../src/cli/options.js';
import { startServer } from '../src/cli/serve.js';
import { mlpModel, tinyModel } from '../src/onnx/models.js';
import { chromiumAvailable, launchChromium } from '../test/helpers/browser.js';
import { makeRepository, putConfig } from '../test/helpers/fixtures.js';
import { normal } from '../test/helpers/random.js';

const out = resolve(process.argv[2] ?? 'docs/status-page.png');
if (!chromiumAvailable()) throw new Error('chromium is not installed (apt-get install -y chromium)');

const repo = makeRepository({
  mlp: {
    bytes: mlpModel(),
    config: {
      max_batch_size: 32,
      dynamic_batching: { max_queue_delay_microseconds: 500 },
      monitoring: { reference: { learn_rows: 300 }, window_rows: 300, min_rows: 100 },
    },
  },
  tiny: { bytes: tinyModel(), config: { response_cache: { enable: true } } },
  scorer: { bytes: tinyModel(), config: { max_batch_size: 8, monitoring: { reference: { learn_rows: 300 }, window_rows: 300, min_rows: 100, outputs: [] } } },
});
putConfig(repo, 'checkout', {
  platform: 'tensorgate_route',
  routing: { targets: [{ model: 'tiny' }, { model: 'scorer' }], canary: { candidate: 'scorer', steps: [5, 25, 50, 100], interval_s: 4, gates: { min_requests: 5 } } },
});
const server = await startServer(serveOptionsSchema.parse({ modelRepository: repo, httpPort: 0, logLevel: 'silent', cache: ['local,size=16MiB'] }));
const base = `http://127.0.0.1:${server.port}`;

const g = normal(42);
const row = (n: number, shift = 0) => Array.from({ length: n }, () => g() + shift);
const infer = (model: string, width: number, rows: number, shift = 0) =>
  fetch(`${base}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [rows, width], datatype: 'FP32', data: row(rows * width, shift) }] }),
  }).then((r) => r.arrayBuffer());
const hot = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i % 4) }] });

let stop = false;
let scorerRows = 0;
const loops = [
  ...Array.from({ length: 6 }, async () => {
    while (!stop) await infer('mlp', 256, 1);
  }),
  (async () => {
    while (!stop) await fetch(`${base}/v2/models/tiny/infer`, { method: 'POST', body: Math.random() < 0.8 ? hot : JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: row(16) }] }) });
  })(),
  (async () => {
    while (!stop) await fetch(`${base}/v2/models/checkout/infer`, { method: 'POST', body: hot }).then((r) => r.arrayBuffer());
  })(),
  (async () => {
    // The reference, then inputs whose feature 3 moved by one standard deviation.
    while (!stop) {
      await infer('scorer', 16, 4, 0);
      scorerRows += 4;
      if (scorerRows > 300) {
        const data = Array.from({ length: 4 * 16 }, (_, k) => g() + (k % 16 === 3 ? 1 : 0));
        await fetch(`${base}/v2/models/scorer/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [4, 16], datatype: 'FP32', data }] }) });
      }
    }
  })(),
];

const browser = await launchChromium({ width: 1360, height: 760 });
try {
  const page = await browser.context.newPage();
  await page.goto(`${base}/?interval=500`);
  await page.locator('[data-model="scorer"] [data-field="drift"]').filter({ hasText: 'drift ' }).waitFor({ timeout: 60_000 });
  await page.locator('[data-route="checkout"]').filter({ hasText: 'step 2/4' }).waitFor({ timeout: 60_000 });
  await page.waitForTimeout(1500); // sparklines
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  stop = true;
  await Promise.all(loops);
  await browser.close();
  await server.stop();
}
