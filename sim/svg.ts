// A small SVG line chart for the simulations' pictures: time series on a left and an optional right
// axis, vertical markers with labels (a rollback, a promotion), a legend. No dependencies: the
// pictures are the project's own output.

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  /** Which y axis it uses (default left). */
  axis?: 'left' | 'right';
  dashed?: boolean;
  /** Draw as steps (a value holds until the next point). */
  step?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  color: string;
}

export interface Chart {
  title: string;
  xLabel: string;
  left: { label: string; max: number };
  right?: { label: string; max: number };
  xMax: number;
  series: Series[];
  markers?: Marker[];
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1));

function ticks(max: number, count = 5): number[] {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

export function lineChart(c: Chart): string {
  const width = c.width ?? 760;
  const height = c.height ?? 360;
  const m = { top: 44, right: c.right ? 64 : 24, bottom: 48, left: 64 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const x = (v: number) => m.left + (v / c.xMax) * w;
  const y = (v: number, axis: 'left' | 'right' = 'left') => m.top + h - (v / (axis === 'left' ? c.left.max : c.right!.max)) * h;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(c.title)}</text>`);
  for (const t of ticks(c.left.max)) {
    parts.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 8}" y="${y(t) + 4}" text-anchor="end" fill="#444">${fmt(t)}</text>`);
  }
  if (c.right) for (const t of ticks(c.right.max)) parts.push(`<text x="${m.left + w + 8}" y="${y(t, 'right') + 4}" fill="#444">${fmt(t)}</text>`);
  for (const t of ticks(c.xMax, 8)) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x(t)}" y="${m.top + h + 18}" text-anchor="middle" fill="#444">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(c.left.label)}</text>`);
  if (c.right) parts.push(`<text transform="translate(${width - 14} ${m.top + h / 2}) rotate(90)" text-anchor="middle">${esc(c.right.label)}</text>`);
  (c.markers ?? []).forEach((mk, i) => {
    // Labels stagger downwards so that markers close together stay readable.
    parts.push(`<line x1="${x(mk.x)}" x2="${x(mk.x)}" y1="${m.top}" y2="${m.top + h}" stroke="${mk.color}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${x(mk.x) + 4}" y="${m.top + 16 + 16 * i}" fill="${mk.color}" font-weight="600">${esc(mk.label)}</text>`);
  });
  for (const s of c.series) {
    const axis = s.axis ?? 'left';
    let d = '';
    s.points.forEach(([px, py], i) => {
      if (i === 0) d += `M${x(px).toFixed(1)},${y(py, axis).toFixed(1)}`;
      else if (s.step) d += `H${x(px).toFixed(1)}V${y(py, axis).toFixed(1)}`;
      else d += `L${x(px).toFixed(1)},${y(py, axis).toFixed(1)}`;
    });
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
  }
  const spacing = Math.min(170, w / c.series.length);
  c.series.forEach((s, i) => {
    const lx = m.left + 12 + i * spacing;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${m.top - 10}" y2="${m.top - 10}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${lx + 28}" y="${m.top - 6}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
