// Small SVG line charts for benchmark reports, with no dependency: panels stacked vertically, each a
// series over time with optional event markers (vertical lines) and a fitted line over part of the run.
// Enough for a person to see a trend; the numbers that decide live in the JSON next to it.

export interface Panel {
  title: string;
  unit: string;
  points: Array<[number, number]>;
  /** A straight line drawn over [from, to] (e.g. a least-squares fit). */
  fit?: { from: number; to: number; slope: number; intercept: number };
}

export interface Marker {
  t: number;
  label: string;
}

const W = 760;
const PANEL_H = 150;
const PAD = { left: 70, right: 20, top: 28, bottom: 26 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Panels share the time axis [0, tMax]; markers are drawn on every panel. */
export function lineChart(title: string, panels: Panel[], markers: Marker[] = [], tMax?: number): string {
  const end = tMax ?? Math.max(1, ...panels.flatMap((p) => p.points.map(([t]) => t)));
  const height = 30 + panels.length * (PANEL_H + PAD.top + PAD.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = 30 + i * (PANEL_H + PAD.top + PAD.bottom) + PAD.top;
    const left = PAD.left;
    const width = W - PAD.left - PAD.right;
    const values = panel.points.map(([, v]) => v).filter(Number.isFinite);
    const min = Math.min(0, ...values);
    const max = niceMax(Math.max(...values, 0) * 1.1);
    const x = (t: number) => left + (t / end) * width;
    const y = (v: number) => top + PANEL_H - ((v - min) / (max - min)) * PANEL_H;
    parts.push(`<text x="${left}" y="${top - 8}" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`);
    parts.push(`<rect x="${left}" y="${top}" width="${width}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = min + ((max - min) * k) / 4;
      parts.push(`<line x1="${left}" x2="${left + width}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`);
    }
    for (let k = 0; k <= 5; k++) {
      const t = (end * k) / 5;
      parts.push(`<text x="${x(t)}" y="${top + PANEL_H + 14}" text-anchor="middle">${Math.round(t)} s</text>`);
    }
    markers.forEach((m, k) => {
      parts.push(`<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${top}" y2="${top + PANEL_H}" stroke="#c77" stroke-dasharray="3,3"/>`);
      // Labels on the first panel, staggered so that close markers stay readable.
      if (i === 0) parts.push(`<text x="${x(m.t) + 2}" y="${top + 10 + (k % 3) * 10}" fill="#a55" font-size="9">${esc(m.label)}</text>`);
    });
    const path = panel.points.filter(([, v]) => Number.isFinite(v)).map(([t, v], k) => `${k === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="#2a6fdb" stroke-width="1.5"/>`);
    if (panel.fit) {
      const f = panel.fit;
      parts.push(
        `<line x1="${x(f.from)}" y1="${y(f.intercept + f.slope * f.from)}" x2="${x(f.to)}" y2="${y(f.intercept + f.slope * f.to)}" stroke="#e08a00" stroke-width="2"/>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Least-squares line through the points (slope per unit of t). */
export function linearFit(points: ReadonlyArray<[number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: points[0]?.[1] ?? 0 };
  let st = 0;
  let sv = 0;
  for (const [t, v] of points) {
    st += t;
    sv += v;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { slope, intercept: mv - slope * mt };
}
