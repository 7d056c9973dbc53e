// A real Prometheus (Debian's `prometheus` package) on a loopback port: with backfilled history
// (OpenMetrics text turned into blocks by `promtool tsdb create-blocks-from openmetrics`) and/or
// scraping targets. Tests skip when the binaries are missing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort, until } from './fixtures.js';

export const HAVE_PROMETHEUS =
  spawnSync('prometheus', ['--version']).status === 0 && spawnSync('promtool', ['--version']).status === 0;

export interface RunningPrometheus {
  url: string;
  /** GET /api/v1/query: the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** OpenMetrics text (ending in `# EOF`) to backfill. */
  openMetrics?: string;
  /** Scrape jobs: job name -> host:port targets, scraped every second. */
  jobs?: Record<string, string[]>;
  /** Rule files (the `groups:` documents) to load; evaluated every second. */
  rules?: object[];
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-prom-'));
  const tsdb = join(dir, 'tsdb');
  if (options.openMetrics) {
    writeFileSync(join(dir, 'backfill.om'), options.openMetrics);
    const made = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'backfill.om'), tsdb], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`promtool create-blocks-from failed: ${made.stderr}`);
  }
  const ruleFiles = (options.rules ?? []).map((rules, i) => {
    const path = join(dir, `rules-${i}.yml`);
    writeFileSync(path, toYaml(rules));
    return path;
  });
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: Object.entries(options.jobs ?? {}).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (log += t));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await until(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true, 'prometheus ready', 20_000, 50);
  } catch {
    child.kill('SIGKILL');
    throw new Error(`prometheus did not become ready:\n${log.slice(-2000)}`);
  }
  return {
    url,
    async query(promql) {
      const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as {
        status: string;
        error?: string;
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (r.status !== 'success') throw new Error(`${promql}: ${r.error}`);
      return r.data.result;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
