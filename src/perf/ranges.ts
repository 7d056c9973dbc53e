// perf_analyzer's ranges: `start:end:step` walks start, start+step, … up to end (step 1 by default);
// `start:end:xF` multiplies by F instead (1:64:x2 is 1, 2, 4, … 64), for sweeps over decades.

/** The levels of a range, or throws a message naming the flag. */
export function parseRange(text: string, flag: string): number[] {
  const parts = text.split(':');
  const bad = (why: string): never => {
    throw new Error(`${flag} ${text}: ${why} (start[:end[:step]], e.g. 1:64:x2 or 1:16:4)`);
  };
  if (parts.length > 3 || parts.some((p) => p.trim() === '')) bad('expected up to three parts');
  const start = Number(parts[0]);
  const end = parts.length > 1 ? Number(parts[1]) : start;
  if (!(start > 0) || !(end >= start) || !Number.isFinite(end)) bad('start must be positive and end at least start');
  const stepText = parts[2]?.trim() ?? '1';
  const geometric = /^[x*]/i.test(stepText);
  const step = Number(geometric ? stepText.slice(1) : stepText);
  if (geometric ? !(step > 1) : !(step > 0)) bad(geometric ? 'a multiplying step must be above 1' : 'the step must be positive');
  const levels: number[] = [];
  for (let v = start; v <= end * (1 + 1e-9); v = geometric ? v * step : v + step) {
    levels.push(Number(v.toPrecision(12)));
    if (levels.length > 10_000) bad('more than 10,000 levels');
  }
  return levels;
}
