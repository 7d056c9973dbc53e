// Durations as Prometheus writes them: 30s, 5m, 1h, 7d (one unit per value).
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;

/** Seconds in `text` ('90s', '15m', '1h', '7d', '1w'); throws with the expected form otherwise. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a duration such as 30s, 15m, 1h or 7d`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  if (!(seconds > 0)) throw new Error(`'${text}' must be longer than zero`);
  return seconds;
}

/** Horizons from '5m,15m,1h': labels as written, steps of `stepSeconds` rounded up (at least one). */
export function parseHorizons(text: string, stepSeconds: number): Array<{ label: string; steps: number }> {
  const labels = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (labels.length === 0) throw new Error('at least one horizon such as 15m');
  const seen = new Set<string>();
  return labels.map((label) => {
    if (seen.has(label)) throw new Error(`horizon ${label} is listed twice`);
    seen.add(label);
    return { label, steps: Math.max(1, Math.ceil(parseDuration(label) / stepSeconds)) };
  });
}

/** The server's and `tensorgate forecast`'s defaults. */
export const FORECAST_DEFAULTS = { horizons: '5m,15m,1h', targetUtilization: 0.7 } as const;
