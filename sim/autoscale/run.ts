// npm run sim:autoscale — replays a day of traffic against a cluster of replicas whose behaviour was
// measured on the real server (bench/results/replica-curve-<model>.json, npm run bench:replica-curve),
// under the policies in deploy/k8s (CPU HPA, queue-time HPA, KEDA with scale to zero, predictive +
// reactive), with dynamic batching on and off. Writes bench/results/autoscale/: a table (markdown and
// JSON) and SVG pictures.
//
// Environment: SIM_CURVE (default bench/results/replica-curve-mlp-large.json), SIM_SLO_MS (100),
// SIM_SCHEDULING_S (15: scheduling, pulling the 135 MB image, container start; assumed),
// SIM_TIMEOUT_S (30).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../bench/common.js';
import { ReplicaModel, type CurveFile } from './curve.js';
import { forecastPeaks, recommendedByMinute } from './forecast-signal.js';
import { deploymentFacts, kedaMinOne, policiesFromManifests, type NamedPolicy } from './policies.js';
import { simulate, type SimulationResult } from './simulate.js';
import { podsSvg, policySvg } from './pictures.js';
import { DAY_SECONDS, perMinute, trace, type DiurnalShape, type TrafficEvent } from './traffic.js';

const DEPLOY = join(ROOT, 'deploy', 'k8s');
const OUT = join(ROOT, 'bench', 'results', 'autoscale');
const CURVE = process.env.SIM_CURVE ?? join(ROOT, 'bench', 'results', 'replica-curve-mlp-large.json');
const SLO_MS = Number(process.env.SIM_SLO_MS ?? 100);
const SCHEDULING_S = Number(process.env.SIM_SCHEDULING_S ?? 15);
const TIMEOUT_S = Number(process.env.SIM_TIMEOUT_S ?? 30);
const HISTORY_DAYS = 7;
const WARMUP_S = 3 * 3600;

interface Workload {
  name: string;
  title: string;
  /** The peak, in replicas' worth of load at the target utilization. */
  peakReplicas: number;
  nightShare: number;
  startHour: number;
  endHour: number;
  events: TrafficEvent[];
}

const WORKLOADS: Workload[] = [
  {
    name: 'busy',
    title: 'a busy model: diurnal cycle, a 5× flash spike at 10:00 (10 min), a slow ramp +50 % from 16:00 to 19:00',
    peakReplicas: 6,
    nightShare: 0.05,
    startHour: 6,
    endHour: 22,
    events: [
      { kind: 'spike', atHour: 10, minutes: 10, factor: 5, riseSeconds: 10 },
      { kind: 'ramp', fromHour: 16, toHour: 19, extra: 0.5 },
    ],
  },
  {
    name: 'diurnal',
    title: 'the diurnal trace alone, for a model used 6:00–22:00 (none at night), peak one replica',
    peakReplicas: 1,
    nightShare: 0,
    startHour: 6,
    endHour: 22,
    events: [],
  },
  {
    name: 'office-hours',
    title: 'the diurnal trace alone, for a model used 8:00–20:00 (none at night), peak one replica',
    peakReplicas: 1,
    nightShare: 0,
    startHour: 8,
    endHour: 20,
    events: [],
  },
];

function coldStartSeconds(): { seconds: number; source: string } {
  const path = join(ROOT, 'bench', 'results', 'cold-start.json');
  if (!existsSync(path)) return { seconds: 1, source: 'assumed 1 s (bench/results/cold-start.json missing)' };
  const r = JSON.parse(readFileSync(path, 'utf8')) as { stats: { readyMs: { median: number } } };
  return { seconds: r.stats.readyMs.median / 1000, source: `measured: process start -> READY median ${r.stats.readyMs.median.toFixed(0)} ms (bench/results/cold-start.json)` };
}

const pct = (a: number, b: number) => (b === 0 ? (a === 0 ? '0 %' : '—') : `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(0)} %`);

async function main(): Promise<void> {
  const curves = JSON.parse(readFileSync(CURVE, 'utf8')) as CurveFile;
  const models = { batching: new ReplicaModel(curves.curves.batching), 'no-batching': new ReplicaModel(curves.curves['no-batching']) };
  const facts = deploymentFacts(DEPLOY);
  const cold = coldStartSeconds();
  const startupSeconds = Math.round(SCHEDULING_S + cold.seconds + facts.readinessPeriodSeconds / 2);
  // The manifest requests one CPU per ONNX Runtime thread; the measured replica ran curves.intraOpThreads.
  const cpuRequestCores = (facts.cpuRequestCores * curves.intraOpThreads) / facts.intraOpThreads;
  const policies = policiesFromManifests(DEPLOY);
  const minOne = kedaMinOne(DEPLOY);
  mkdirSync(OUT, { recursive: true });
  const sloCheck = models.batching.at(models.batching.capacityRps * facts.targetUtilization).p99Ms;
  if (sloCheck > SLO_MS) process.stderr.write(`warning: p99 at ${facts.targetUtilization * 100} % of capacity is ${sloCheck.toFixed(0)} ms, above the ${SLO_MS} ms SLO\n`);

  const report: Record<string, unknown> = {
    curve: relative(ROOT, CURVE),
    provisional: curves.provisional,
    curveNote: curves.note,
    model: curves.model,
    capacityRps: { batching: models.batching.capacityRps, 'no-batching': models['no-batching'].capacityRps },
    sloMs: SLO_MS,
    cpuRequestCores,
    startupSeconds,
    startup: `${SCHEDULING_S} s scheduling, image pull and container start (assumed) + ${cold.seconds.toFixed(2)} s ${cold.source} + ${facts.readinessPeriodSeconds / 2} s (half the readiness probe period)`,
    timeoutSeconds: TIMEOUT_S,
    workloads: {} as Record<string, unknown>,
  };
  const md: string[] = [
    '# Autoscaling replay (npm run sim:autoscale)',
    '',
    curves.provisional ? `> **PROVISIONAL** replica curves (${curves.note}): every figure below changes once \`npm run bench:replica-curve\` has run on a quiet machine and \`npm run sim:autoscale\` after it.\n` : '',
    `Replica model: \`${curves.model}\` measured on the real server (${relative(ROOT, CURVE)}, ${curves.intraOpThreads} ONNX Runtime thread(s)): capacity ${models.batching.capacityRps.toFixed(0)} req/s with dynamic batching, ${models['no-batching'].capacityRps.toFixed(0)} req/s without.`,
    `CPU utilization is against ${cpuRequestCores} core(s): the manifest requests ${facts.cpuRequestCores} CPUs for ${facts.intraOpThreads} ONNX Runtime threads, the measured replica ran ${curves.intraOpThreads}.`,
    `SLO: p99 ≤ ${SLO_MS} ms in every minute and no failed request. A pod is READY ${startupSeconds} s after it is created (${report.startup}). Requests give up after ${TIMEOUT_S} s.`,
    `Policies are read from deploy/k8s (targets, windows, policies, thresholds, forecast horizon ${facts.horizonMinutes} min at ${facts.targetUtilization * 100} % utilization).`,
    '',
  ];

  for (const w of WORKLOADS) {
    const unit = models.batching.capacityRps * facts.targetUtilization;
    const shape: DiurnalShape = { peakRps: w.peakReplicas * unit, nightRps: w.nightShare * w.peakReplicas * unit, startHour: w.startHour, endHour: w.endHour };
    const history = trace(HISTORY_DAYS, { shape, events: [], seed: 11 });
    const day = trace(1, { shape, events: w.events, seed: 12 });
    const perSecond = new Float64Array(WARMUP_S + DAY_SECONDS);
    perSecond.set(history.subarray(history.length - WARMUP_S), 0);
    perSecond.set(day, WARMUP_S);
    const historyMinutes = perMinute(history.subarray(0, history.length - WARMUP_S));
    const peaks = forecastPeaks({ history: historyMinutes, replay: perMinute(perSecond), horizonMinutes: facts.horizonMinutes });
    const runs: Record<string, Record<string, SimulationResult>> = {};
    const quiet = w.nightShare === 0;
    const named: NamedPolicy[] = quiet ? [...policies, minOne] : policies;
    for (const [mode, model] of Object.entries(models)) {
      runs[mode] = {};
      for (const p of named) {
        runs[mode]![p.name] = simulate({
          policy: p.policy,
          model,
          perSecond,
          warmupSeconds: WARMUP_S,
          startupSeconds,
          cpuRequestCores,
          timeoutSeconds: TIMEOUT_S,
          sloMs: SLO_MS,
          forecastByMinute: recommendedByMinute(peaks, model.capacityRps, facts.targetUtilization),
        });
      }
    }
    const on = runs.batching!;
    const off = runs['no-batching']!;
    const base = on['cpu-hpa']!;
    const rows = named.map((p) => {
      const r = on[p.name]!;
      const o = off[p.name]!;
      return {
        policy: p.name,
        label: p.label,
        sloViolationMinutes: r.sloViolationMinutes,
        replicaMinutes: Math.round(r.replicaMinutes),
        failedRequests: Math.round(r.failedRequests),
        peakPods: r.peakPods,
        violationsVsCpuHpa: pct(r.sloViolationMinutes, base.sloViolationMinutes),
        costVsCpuHpa: pct(r.replicaMinutes, base.replicaMinutes),
        batchingOff: { sloViolationMinutes: o.sloViolationMinutes, replicaMinutes: Math.round(o.replicaMinutes), peakPods: o.peakPods },
        batchingSaves: `${(((o.replicaMinutes - r.replicaMinutes) / o.replicaMinutes) * 100).toFixed(0)} %`,
      };
    });
    (report.workloads as Record<string, unknown>)[w.name] = { title: w.title, peakRps: shape.peakRps, rows };
    md.push(`## ${w.name}: ${w.title}`, '');
    md.push(`Peak ${shape.peakRps.toFixed(0)} req/s before events (${w.peakReplicas} replica(s) at ${facts.targetUtilization * 100} % of the batching capacity).`, '');
    md.push('| policy | SLO-violation minutes | vs CPU HPA | replica-minutes | vs CPU HPA | failed requests | peak pods | batching off: violation min | batching off: replica-minutes | batching saves |');
    md.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      md.push(
        `| ${r.label} | ${r.sloViolationMinutes} | ${r.violationsVsCpuHpa} | ${r.replicaMinutes} | ${r.costVsCpuHpa} | ${r.failedRequests} | ${r.peakPods} | ${r.batchingOff.sloViolationMinutes} | ${r.batchingOff.replicaMinutes} | ${r.batchingSaves} |`,
      );
    }
    md.push(
      '',
      'Replica-minutes count pods ready or starting. The batching-off columns replay the same trace with replicas measured without dynamic batching; their cost compares fairly only where both runs hold the SLO.',
    );
    if (!quiet) {
      const pred = on.predictive!;
      const dv = base.sloViolationMinutes === 0 ? 0 : (base.sloViolationMinutes - pred.sloViolationMinutes) / base.sloViolationMinutes;
      const dc = (pred.replicaMinutes - base.replicaMinutes) / base.replicaMinutes;
      md.push(
        '',
        `Target — predictive + reactive against CPU HPA: SLO-violation minutes ${base.sloViolationMinutes} → ${pred.sloViolationMinutes} (${(dv * 100).toFixed(0)} % fewer; target ≥ 50 %), replica-minutes ${pct(pred.replicaMinutes, base.replicaMinutes)} (target ≤ +10 %): ${dv >= 0.5 && dc <= 0.1 ? 'met' : 'not met'}${curves.provisional ? ' (provisional curves)' : ''}.`,
      );
    }
    if (quiet) {
      const zero = on['keda-zero']!;
      const one = on['keda-min1']!;
      const saving = (one.replicaMinutes - zero.replicaMinutes) / one.replicaMinutes;
      md.push(
        '',
        `Scale to zero: ${Math.round(zero.replicaMinutes)} replica-minutes against ${Math.round(one.replicaMinutes)} for the same ScaledObject held at one replica (${(saving * 100).toFixed(0)} % saved; target ≥ 40 %: ${saving >= 0.4 ? 'met' : 'not met'}); SLO-violation minutes ${zero.sloViolationMinutes} against ${one.sloViolationMinutes} (the first requests after the night wait for a cold start unless the forecast wakes the deployment first: predictive ${on.predictive!.sloViolationMinutes}). What scale to zero saves is the idle share of the day.`,
      );
    }
    md.push('');
    for (const p of named) {
      const r = on[p.name]!;
      const file = `${w.name}-${p.name}.svg`;
      writeFileSync(
        join(OUT, file),
        policySvg({
          label: `${p.label} — ${w.name}`,
          summary: `${r.sloViolationMinutes} SLO-violation minutes, ${Math.round(r.replicaMinutes)} replica-minutes, peak ${r.peakPods} pods (dynamic batching on)`,
          minutes: r.minutes,
          capacityRps: models.batching.capacityRps,
          sloMs: SLO_MS,
        }),
      );
      md.push(`![${p.label}](${file})`);
    }
    writeFileSync(join(OUT, `${w.name}-pods.svg`), podsSvg(`pods per policy — ${w.name}`, named.map((p) => ({ label: p.label, minutes: on[p.name]!.minutes }))));
    md.push(`![pods per policy](${w.name}-pods.svg)`, '');
  }
  writeFileSync(join(OUT, 'autoscale.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(OUT, 'autoscale.md'), `${md.join('\n')}\n`);
  process.stdout.write(`${md.filter((l) => !l.startsWith('![')).join('\n')}\nwrote ${relative(ROOT, OUT)}/\n`);
}

await main();
