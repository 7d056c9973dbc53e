// Pictures of a replay, as plain SVG: per policy, three panels sharing the day (the load against the
// capacity of the ready pods, the pods, the p99 latency on a log axis against the SLO with violations
// marked); and all policies' pods together on the simulations' common line chart (sim/svg.ts).
import { lineChart } from '../svg.js';
import type { MinuteRecord } from './simulate.js';

const W = 960;
const LEFT = 70;
const RIGHT = 20;
const PANEL = 140;
const GAP = 34;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1000 ? `${Math.round(v / 100) / 10}k` : v >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10));

interface Panel {
  top: number;
  title: string;
  yMax: number;
  log?: { min: number };
}

function y(panel: Panel, v: number): number {
  if (panel.log) {
    const lo = Math.log10(panel.log.min);
    const hi = Math.log10(panel.yMax);
    const f = (Math.log10(Math.max(v, panel.log.min)) - lo) / (hi - lo);
    return panel.top + PANEL - Math.min(1, Math.max(0, f)) * PANEL;
  }
  return panel.top + PANEL - Math.min(1, v / panel.yMax) * PANEL;
}
const x = (minute: number, minutes: number) => LEFT + (minute / minutes) * (W - LEFT - RIGHT);

function axes(p: Panel, minutes: number): string {
  const parts = [`<text x="${LEFT}" y="${p.top - 8}" font-size="13" font-weight="bold">${esc(p.title)}</text>`];
  parts.push(`<rect x="${LEFT}" y="${p.top}" width="${W - LEFT - RIGHT}" height="${PANEL}" fill="none" stroke="#999"/>`);
  const ticks = p.log ? [p.log.min, ...[1, 10, 100, 1000, 10000, 100000].filter((v) => v > p.log!.min && v <= p.yMax)] : [0, p.yMax / 2, p.yMax];
  for (const v of ticks) {
    const yy = y(p, v);
    parts.push(`<line x1="${LEFT - 4}" x2="${W - RIGHT}" y1="${yy}" y2="${yy}" stroke="#eee"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${yy + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let h = 0; h <= 24; h += 3) {
    const xx = x(h * 60, minutes);
    parts.push(`<text x="${xx}" y="${p.top + PANEL + 14}" font-size="11" text-anchor="middle">${h}:00</text>`);
  }
  return parts.join('');
}

function line(points: Array<[number, number]>, color: string, width = 1.5, dash = ''): string {
  const d = points.map(([a, b], i) => `${i ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

export interface PolicyPicture {
  label: string;
  summary: string;
  minutes: MinuteRecord[];
  capacityRps: number;
  sloMs: number;
}

/** Load vs ready capacity, pods, p99 vs SLO for one policy. */
export function policySvg(p: PolicyPicture): string {
  const n = p.minutes.length;
  const maxLoad = Math.max(...p.minutes.map((m) => Math.max(m.arrivalsPerSecond, m.ready * p.capacityRps)), 1);
  const maxPods = Math.max(...p.minutes.map((m) => m.pods), 1);
  const maxP99 = Math.max(p.sloMs * 10, ...p.minutes.map((m) => m.p99Ms));
  const TOP = 76;
  const load: Panel = { top: TOP, title: 'load (requests/s, grey) and what the ready pods sustain (blue)', yMax: maxLoad * 1.05 };
  const pods: Panel = { top: TOP + PANEL + GAP, title: 'pods (ready or starting: black; ready: green)', yMax: Math.ceil(maxPods * 1.1) };
  const lat: Panel = { top: TOP + 2 * (PANEL + GAP), title: `p99 latency per minute, ms (log), SLO ${p.sloMs} ms dashed; violations in red`, yMax: maxP99, log: { min: 1 } };
  const H = lat.top + PANEL + 30;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${LEFT}" y="22" font-size="16" font-weight="bold">${esc(p.label)}</text>`);
  out.push(`<text x="${LEFT}" y="42" font-size="12">${esc(p.summary)}</text>`);
  for (const panel of [load, pods, lat]) out.push(axes(panel, n));
  const area = p.minutes.map((m) => [x(m.minute, n), y(load, m.arrivalsPerSecond)] as [number, number]);
  out.push(`<path d="M${x(0, n)},${y(load, 0)}${area.map(([a, b]) => `L${a.toFixed(1)},${b.toFixed(1)}`).join('')}L${x(n - 1, n)},${y(load, 0)}Z" fill="#ccc"/>`);
  out.push(line(p.minutes.map((m) => [x(m.minute, n), y(load, m.ready * p.capacityRps)]), COLORS[0]!));
  out.push(line(p.minutes.map((m) => [x(m.minute, n), y(pods, m.pods)]), '#000'));
  out.push(line(p.minutes.map((m) => [x(m.minute, n), y(pods, m.ready)]), COLORS[2]!, 1));
  out.push(line(p.minutes.filter((m) => m.p99Ms > 0).map((m) => [x(m.minute, n), y(lat, m.p99Ms)]), COLORS[3]!, 1));
  out.push(line([[x(0, n), y(lat, p.sloMs)], [x(n, n), y(lat, p.sloMs)]], COLORS[1]!, 1, '5,4'));
  for (const m of p.minutes.filter((mm) => mm.violated)) {
    const xx = x(m.minute, n);
    out.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${lat.top + PANEL - 8}" y2="${lat.top + PANEL}" stroke="${COLORS[1]}"/>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/** Every policy's pods over the day on one chart (sim/svg.ts's line chart), the load on the right axis. */
export function podsSvg(title: string, series: Array<{ label: string; minutes: MinuteRecord[] }>): string {
  const hours = (m: MinuteRecord) => (m.minute + 1) / 60;
  const maxPods = Math.max(1, ...series.flatMap((s) => s.minutes.map((m) => m.pods)));
  const maxLoad = Math.max(1, ...(series[0]?.minutes.map((m) => m.arrivalsPerSecond) ?? [1]));
  return lineChart({
    title,
    xLabel: 'hour of the day',
    xMax: 24,
    left: { label: 'pods (ready or starting)', max: Math.ceil(maxPods * 1.1) },
    right: { label: 'load, requests/s (grey)', max: Math.ceil(maxLoad * 1.1) },
    width: W,
    height: 420,
    series: [
      { name: 'load', color: '#bbb', axis: 'right', points: series[0]?.minutes.map((m) => [hours(m), m.arrivalsPerSecond] as [number, number]) ?? [] },
      ...series.map((s, i) => ({
        name: s.label,
        color: COLORS[i % COLORS.length]!,
        step: true,
        points: s.minutes.map((m) => [hours(m), m.pods] as [number, number]),
      })),
    ],
  });
}
