// The latency–throughput picture of a sweep: client latency percentiles (and the server's own time)
// against the throughput each step reached, every point labelled with its concurrency or rate. The
// knee, where latency climbs while throughput stops growing, is what one sizes a deployment by.
import type { StepResult } from './measure.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * mag).find((m) => m >= v) ?? 10 * mag;
}

function fmt(v: number): string {
  const short = (x: number, unit: string) => `${Number.isInteger(x) || x >= 10 ? Math.round(x) : x.toFixed(1)}${unit}`;
  if (v >= 1e6) return short(v / 1e6, 'M');
  if (v >= 1e3) return short(v / 1e3, 'k');
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}

export function latencyThroughputSvg(results: StepResult[], title: string): string {
  const W = 760;
  const H = 440;
  const m = { left: 70, right: 150, top: 44, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ms = (us: number) => us / 1000;
  const series = [
    { name: 'p99', color: '#d62728', value: (r: StepResult) => ms(r.latencyUs.p99), dashed: false },
    { name: 'p90', color: '#ff7f0e', value: (r: StepResult) => ms(r.latencyUs.p90), dashed: false },
    { name: 'p50', color: '#1f77b4', value: (r: StepResult) => ms(r.latencyUs.p50), dashed: false },
    { name: 'server (avg)', color: '#2ca02c', value: (r: StepResult) => (r.server ? ms(r.server.requestUs) : NaN), dashed: true },
  ];
  const xMax = niceMax(Math.max(...results.map((r) => r.throughput)) * 1.05);
  const yMax = niceMax(Math.max(...results.flatMap((r) => series.map((s) => s.value(r)).filter(Number.isFinite))) * 1.05);
  const x = (v: number) => m.left + (v / xMax) * pw;
  const y = (v: number) => m.top + ph - (v / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax * i) / 5;
    const yv = (yMax * i) / 5;
    out.push(`<line x1="${x(xv)}" y1="${m.top}" x2="${x(xv)}" y2="${m.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x(xv)}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(xv)}</text>`);
    out.push(`<line x1="${m.left}" y1="${y(yv)}" x2="${m.left + pw}" y2="${y(yv)}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 8}" y="${y(yv) + 4}" text-anchor="end">${fmt(yv)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">throughput (infer/s)</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">latency (ms)</text>`);
  series.forEach((s, k) => {
    const pts = results.map((r) => [r.throughput, s.value(r)] as const).filter(([, v]) => Number.isFinite(v));
    if (pts.length === 0) return;
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b] of pts) out.push(`<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${s.color}"/>`);
    out.push(`<line x1="${m.left + pw + 14}" y1="${m.top + 10 + k * 20}" x2="${m.left + pw + 34}" y2="${m.top + 10 + k * 20}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    out.push(`<text x="${m.left + pw + 40}" y="${m.top + 14 + k * 20}">${esc(s.name)}</text>`);
  });
  // Step labels on the p99 points.
  for (const r of results) {
    const v = ms(r.latencyUs.p99);
    if (Number.isFinite(v)) out.push(`<text x="${(x(r.throughput) + 5).toFixed(1)}" y="${(y(v) - 6).toFixed(1)}" font-size="10" fill="#555">${r.mode === 'concurrency' ? 'c' : 'r'}=${fmt(r.level)}</text>`);
  }
  out.push(`<text x="${m.left + pw + 14}" y="${m.top + 104}" font-size="10" fill="#555">labels: c = concurrency,</text>`);
  out.push(`<text x="${m.left + pw + 14}" y="${m.top + 118}" font-size="10" fill="#555">r = request rate (/s)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
