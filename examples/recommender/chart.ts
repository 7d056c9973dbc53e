// The replay's picture: latency over time as an SVG (no dependency): every request as a dot coloured by
// the level that answered (sampled when there are many), P50 and P99 per second as lines, failed
// requests on the top edge, and the rollout / failure / recovery moments marked.

export interface Sample {
  /** Seconds since the start. */
  t: number;
  ms: number;
  level: string;
  ok: boolean;
}

export interface Marker {
  t: number;
  label: string;
}

const COLORS = ['#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

export function latencyChart(samples: Sample[], markers: Marker[], title: string, seconds: number): string {
  const W = 1000;
  const H = 460;
  const L = 60;
  const R = 170;
  const T = 40;
  const B = 40;
  const minMs = 0.1;
  const maxMs = 1000;
  const x = (t: number) => L + (t / seconds) * (W - L - R);
  const y = (ms: number) => T + (1 - (Math.log10(Math.min(maxMs, Math.max(minMs, ms))) - Math.log10(minMs)) / (Math.log10(maxMs) - Math.log10(minMs))) * (H - T - B);
  const levels = [...new Set(samples.filter((s) => s.ok).map((s) => s.level))].sort();
  const color = (level: string) => COLORS[levels.indexOf(level) % COLORS.length]!;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`);
  for (const ms of [0.1, 1, 10, 100, 1000]) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${y(ms) + 4}" text-anchor="end">${ms} ms</text>`);
  }
  for (let t = 0; t <= seconds; t += Math.max(1, Math.round(seconds / 10))) out.push(`<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${t} s</text>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#999"/>`);
  const step = Math.max(1, Math.floor(samples.length / 6000));
  for (let i = 0; i < samples.length; i += step) {
    const s = samples[i]!;
    if (!s.ok) continue;
    out.push(`<circle cx="${x(s.t).toFixed(1)}" cy="${y(s.ms).toFixed(1)}" r="1.3" fill="${color(s.level)}" fill-opacity="0.35"/>`);
  }
  for (const s of samples) if (!s.ok) out.push(`<line x1="${x(s.t).toFixed(1)}" x2="${x(s.t).toFixed(1)}" y1="${T - 6}" y2="${T}" stroke="#d62728"/>`);
  const buckets = new Map<number, number[]>();
  for (const s of samples) if (s.ok) (buckets.get(Math.floor(s.t)) ?? buckets.set(Math.floor(s.t), []).get(Math.floor(s.t))!).push(s.ms);
  for (const [q, stroke, dash] of [[0.5, '#333', ''], [0.99, '#d62728', '4,3']] as const) {
    const pts = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([sec, v]) => `${x(sec + 0.5).toFixed(1)},${y(quantile(v.sort((a, b) => a - b), q)).toFixed(1)}`);
    if (pts.length > 1) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${stroke}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
  }
  for (const m of markers) {
    out.push(`<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${T}" y2="${H - B}" stroke="#555" stroke-dasharray="2,4"/>`);
    out.push(`<text x="${x(m.t) + 4}" y="${T + 12}" fill="#555">${escape(m.label)}</text>`);
  }
  const legend: Array<[string, string]> = [...levels.map((l): [string, string] => [color(l), l]), ['#333', 'P50 per second'], ['#d62728', 'P99 per second'], ['#d62728', 'failed (ticks on top)']];
  legend.forEach(([c, label], i) => {
    out.push(`<rect x="${W - R + 14}" y="${T + i * 18}" width="10" height="10" fill="${c}"/>`);
    out.push(`<text x="${W - R + 30}" y="${T + i * 18 + 9}">${escape(label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
