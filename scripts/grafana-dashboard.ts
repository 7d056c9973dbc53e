// Writes deploy/grafana/tensorgate.json, the Grafana dashboard, from the panel table below (one place
// to edit; test/observability-rules.test.ts checks the committed file is this output and every query
// runs in a real Prometheus).
//
//   npx tsx scripts/grafana-dashboard.ts [out.json]
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const M = 'model=~"$model"';
const R = '$__rate_interval';

interface Target {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: Target[];
  kind?: 'timeseries' | 'stat' | 'heatmap';
  width?: number;
  max?: number;
}

interface Row {
  title: string;
  panels: PanelSpec[];
}

const quantile = (q: string, label: string): Target => ({
  expr: `histogram_quantile(${q}, sum by (model, le) (rate(tensorgate_request_duration_seconds_bucket{${M}}[${R}])))`,
  legend: `{{model}} ${label}`,
});

/** Every panel, by row. Metric names: src/metrics/README.md (routes: the routing layer's tensorgate_route_*). */
export const ROWS: Row[] = [
  {
    title: 'Traffic and latency',
    panels: [
      {
        title: 'Requests per second',
        description: 'Successful inference requests per model (cache hits included).',
        unit: 'reqps',
        targets: [{ expr: `sum by (model) (rate(tensorgate_inference_request_duration_seconds_count{${M}}[${R}]))`, legend: '{{model}}' }],
      },
      {
        title: 'Latency P50 / P99 / P999',
        description: 'Enqueue to completion, from the native histograms (4 buckets per doubling, about 19 % apart).',
        unit: 's',
        targets: [quantile('0.5', 'p50'), quantile('0.99', 'p99'), quantile('0.999', 'p999')],
      },
      {
        title: 'Requests within the latency SLO (100 ms)',
        description: 'Share of successful requests answered within 100 ms through the whole inference path (the latency SLI).',
        unit: 'percentunit',
        max: 1,
        targets: [
          {
            expr: `sum by (model) (rate(tensorgate_inference_request_duration_seconds_bucket{${M},le="0.1"}[${R}])) / sum by (model) (rate(tensorgate_inference_request_duration_seconds_count{${M}}[${R}]))`,
            legend: '{{model}}',
          },
        ],
      },
      {
        title: 'Errors by reason',
        description: 'Failed requests per second by reason: queue_full, timeout, cancelled, unavailable, invalid, backend.',
        unit: 'reqps',
        targets: [{ expr: `sum by (model, reason) (rate(nv_inference_request_failure{${M}}[${R}]))`, legend: '{{model}} {{reason}}' }],
      },
      {
        title: 'Availability error budget burn rate (1 h)',
        description: 'How many times faster than sustainable the 99.9 % budget burns (1 = exactly on budget; the page fires at 14.4). Needs deploy/prometheus/tensorgate-rules.yml.',
        unit: 'none',
        targets: [{ expr: `model:tensorgate_availability_errors:ratio_rate1h{${M}} / 0.001`, legend: '{{model}}' }],
      },
      {
        title: 'Latency error budget burn rate (1 h)',
        description: 'As above for the latency SLO (99 % within 100 ms).',
        unit: 'none',
        targets: [{ expr: `model:tensorgate_latency_slow:ratio_rate1h{${M}} / 0.01`, legend: '{{model}}' }],
      },
    ],
  },
  {
    title: 'Batching and queue',
    panels: [
      {
        title: 'Mean batch size',
        description: 'Rows per model execution.',
        unit: 'none',
        targets: [{ expr: `sum by (model) (rate(nv_inference_count{${M}}[${R}])) / sum by (model) (rate(nv_inference_exec_count{${M}}[${R}]))`, legend: '{{model}}' }],
      },
      {
        title: 'Batch sizes',
        description: 'Executions per second by batch size bucket.',
        unit: 'ops',
        kind: 'heatmap',
        targets: [{ expr: `sum by (le) (rate(tensorgate_batch_size_bucket{${M}}[${R}]))`, legend: '{{le}}' }],
      },
      {
        title: 'Queue time per request',
        description: 'Mean time a request waits for its batch (what Triton autoscales on).',
        unit: 's',
        targets: [{ expr: `sum by (model) (rate(tensorgate_queue_duration_seconds_sum{${M}}[${R}])) / sum by (model) (rate(tensorgate_queue_duration_seconds_count{${M}}[${R}]))`, legend: '{{model}}' }],
      },
      {
        title: 'Pending and in-flight requests',
        description: "Pending: waiting to execute (Triton's nv_inference_pending_request_count). In flight: pending plus executing.",
        unit: 'none',
        targets: [
          { expr: `sum by (model) (nv_inference_pending_request_count{${M}})`, legend: '{{model}} pending' },
          { expr: `sum by (model) (tensorgate_inflight_requests{${M}})`, legend: '{{model}} in flight' },
        ],
      },
    ],
  },
  {
    title: 'Cache and routes',
    panels: [
      {
        title: 'Cache hit ratio',
        description: 'Response cache hits over lookups, all levels.',
        unit: 'percentunit',
        max: 1,
        targets: [
          {
            expr: `sum by (model) (rate(nv_cache_num_hits_per_model{${M}}[${R}])) / (sum by (model) (rate(nv_cache_num_hits_per_model{${M}}[${R}])) + sum by (model) (rate(nv_cache_num_misses_per_model{${M}}[${R}])))`,
            legend: '{{model}}',
          },
        ],
      },
      {
        title: 'Redis circuit',
        description: '1 while the shared cache level is skipped (Redis unreachable).',
        unit: 'none',
        kind: 'stat',
        targets: [{ expr: 'max by (instance) (tensorgate_cache_circuit_open)', legend: '{{instance}}' }],
      },
      {
        title: 'Route splits',
        description: 'Requests per second each route sends to each of its targets.',
        unit: 'reqps',
        targets: [{ expr: `sum by (route, target) (rate(tensorgate_route_requests_total[${R}]))`, legend: '{{route}} → {{target}}' }],
      },
      {
        title: 'Route weights and canary',
        description: "Each target's share of a route's weighted traffic (percent), and the canary's step.",
        unit: 'none',
        targets: [
          { expr: 'max by (route, target) (tensorgate_route_weight_percent)', legend: '{{route}} → {{target}} %' },
          { expr: 'max by (route) (tensorgate_route_canary_step)', legend: '{{route}} canary step' },
        ],
      },
    ],
  },
  {
    title: 'Drift and data quality',
    panels: [
      {
        title: 'Drifted features',
        description: 'Features whose drift decision is 1, per monitored model version.',
        unit: 'none',
        targets: [{ expr: `max by (model, version) (tensorgate_drift_features_drifted{${M}})`, legend: '{{model}} v{{version}}' }],
      },
      {
        title: 'PSI per feature',
        description: 'Population stability index of each feature (0.1 warning, 0.25 drift).',
        unit: 'none',
        targets: [{ expr: `max by (model, tensor, feature) (tensorgate_drift_score{${M},method="psi"})`, legend: '{{model}} {{tensor}}[{{feature}}]' }],
      },
      {
        title: 'Data-quality violations',
        description: 'NaN, Inf, out-of-range, unseen-category and rejected values per second.',
        unit: 'ops',
        targets: [{ expr: `sum by (model, input, kind) (rate(tensorgate_data_quality_violations_total{${M}}[${R}]))`, legend: '{{model}} {{input}} {{kind}}' }],
      },
    ],
  },
  {
    title: 'Resources',
    panels: [
      {
        title: 'CPU',
        description: 'Machine CPU utilization (nv_cpu_utilization) and cores used by the server process.',
        unit: 'percentunit',
        targets: [
          { expr: 'max by (instance) (nv_cpu_utilization)', legend: '{{instance}} machine' },
          { expr: `max by (instance) (rate(process_cpu_seconds_total{job="tensorgate"}[${R}]))`, legend: '{{instance}} process (cores)' },
        ],
      },
      {
        title: 'Memory',
        description: 'Server process resident memory, and the machine’s used memory.',
        unit: 'bytes',
        targets: [
          { expr: 'max by (instance) (process_resident_memory_bytes{job="tensorgate"})', legend: '{{instance}} process RSS' },
          { expr: 'max by (instance) (nv_cpu_memory_used_bytes)', legend: '{{instance}} machine used' },
        ],
      },
      {
        title: 'GPU utilization and memory',
        description: 'Per GPU through NVML (no series without a GPU).',
        unit: 'percentunit',
        targets: [
          { expr: 'max by (gpu_uuid) (nv_gpu_utilization)', legend: '{{gpu_uuid}} utilization' },
          { expr: 'max by (gpu_uuid) (nv_gpu_memory_used_bytes / nv_gpu_memory_total_bytes)', legend: '{{gpu_uuid}} memory' },
        ],
      },
      {
        title: 'GPU power',
        description: 'Watts per GPU.',
        unit: 'watt',
        targets: [{ expr: 'max by (gpu_uuid) (nv_gpu_power_usage)', legend: '{{gpu_uuid}}' }],
      },
      {
        title: 'Event loop lag P99',
        description: 'Node.js event loop delay (the server thread).',
        unit: 's',
        targets: [{ expr: 'max by (instance) (nodejs_eventloop_lag_p99_seconds{job="tensorgate"})', legend: '{{instance}}' }],
      },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

export function dashboard(): Record<string, unknown> {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      const kind = p.kind ?? 'timeseries';
      panels.push({
        id: id++,
        type: kind,
        title: p.title,
        description: p.description,
        datasource: DATASOURCE,
        gridPos: { h: 8, w, x, y },
        fieldConfig: { defaults: { unit: p.unit, ...(p.max !== undefined ? { max: p.max, min: 0 } : {}) }, overrides: [] },
        options: kind === 'timeseries' ? { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } } : {},
        targets: p.targets.map((t, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DATASOURCE,
          expr: t.expr,
          legendFormat: t.legend,
          ...(kind === 'heatmap' ? { format: 'heatmap' } : {}),
        })),
      });
      x += w;
    }
    y += 8;
  }
  return {
    title: 'tensorgate',
    uid: 'tensorgate',
    description: 'tensorgate model server: traffic, latency against the SLOs, errors, batching and queue, cache and routes, drift and data quality, resources.',
    tags: ['tensorgate', 'inference'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source', current: {}, hide: 0 },
        {
          name: 'model',
          type: 'query',
          label: 'Model',
          datasource: DATASOURCE,
          query: { query: 'label_values(nv_inference_request_success, model)', refId: 'models' },
          definition: 'label_values(nv_inference_request_success, model)',
          includeAll: true,
          allValue: '.*',
          multi: true,
          refresh: 2,
          current: { text: 'All', value: '$__all' },
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

export function dashboardJson(): string {
  return `${JSON.stringify(dashboard(), null, 2)}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? 'deploy/grafana/tensorgate.json');
  writeFileSync(out, dashboardJson());
  console.log(`wrote ${out}`);
}
