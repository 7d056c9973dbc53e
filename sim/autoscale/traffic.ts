// Traffic for the replay: a day of per-second request rates with a diurnal cycle and the events the
// autoscalers must handle (a 5× flash spike, a slow ramp), and the per-minute history of the days
// before (same cycle, no events) that the forecaster learns from. Seeded: the same trace every run.
import { mulberry32 } from '../../src/onnx/builder.js';

export const DAY_SECONDS = 86_400;

export interface DiurnalShape {
  /** Rate at the afternoon peak, requests/s. */
  peakRps: number;
  /** Rate through the night (0: nobody uses the model at night). */
  nightRps: number;
  /** Hours of the day the traffic rises from and falls back to the night rate. */
  startHour: number;
  endHour: number;
}

export type TrafficEvent =
  /** `factor`× the rate from `atHour` for `minutes`, rising in `riseSeconds`, falling in a minute. */
  | { kind: 'spike'; atHour: number; minutes: number; factor: number; riseSeconds: number }
  /** A growth the history has not seen: +`extra` (0.5 = +50 %) reached linearly from `fromHour` to `toHour`, held after. */
  | { kind: 'ramp'; fromHour: number; toHour: number; extra: number };

export interface TraceOptions {
  shape: DiurnalShape;
  events: TrafficEvent[];
  seed: number;
  /** Day-to-day level change (sd of a per-day factor, default 0.05). */
  daySd?: number;
  /** Minute-to-minute noise (sd of a per-minute factor, default 0.05). */
  minuteSd?: number;
}

/** The cycle's rate at `second` of the day: night rate outside [start, end), a sin² bump in between. */
export function diurnalRate(second: number, shape: DiurnalShape): number {
  const hour = (second % DAY_SECONDS) / 3600;
  if (hour < shape.startHour || hour >= shape.endHour) return shape.nightRps;
  const u = (hour - shape.startHour) / (shape.endHour - shape.startHour);
  return shape.nightRps + (shape.peakRps - shape.nightRps) * Math.sin(Math.PI * u) ** 2;
}

/** The events' multiplier at `second` of the day. */
export function eventFactor(second: number, events: readonly TrafficEvent[]): number {
  let f = 1;
  for (const e of events) {
    if (e.kind === 'spike') {
      const start = e.atHour * 3600;
      const end = start + e.minutes * 60;
      if (second >= start && second < end + 60) {
        const rise = Math.min(1, (second - start) / Math.max(1, e.riseSeconds));
        const fall = second >= end ? 1 - (second - end) / 60 : 1;
        f *= 1 + (e.factor - 1) * rise * fall;
      }
    } else {
      const at = (second / 3600 - e.fromHour) / (e.toHour - e.fromHour);
      f *= 1 + e.extra * Math.min(1, Math.max(0, at));
    }
  }
  return f;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A Poisson count with mean `rate` (Knuth's method below 30, the normal approximation above). */
export function poisson(rate: number, random: () => number): number {
  if (rate <= 0) return 0;
  if (rate >= 30) return Math.max(0, Math.round(rate + Math.sqrt(rate) * gaussian(random)));
  const limit = Math.exp(-rate);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

/**
 * `days` days of per-second request counts: Poisson draws around the cycle × a per-day factor × a
 * per-minute factor (smoothly interpolated) × the events (on every day given; pass none for history).
 * Whole requests, so a quiet hour has a first request rather than a trickle of fractions.
 */
export function trace(days: number, options: TraceOptions): Float64Array {
  const random = mulberry32(options.seed);
  const daySd = options.daySd ?? 0.05;
  const minuteSd = options.minuteSd ?? 0.05;
  const minutes = days * 1440;
  const minuteFactor = Float64Array.from({ length: minutes + 1 }, () => Math.max(0.5, 1 + minuteSd * gaussian(random)));
  const dayFactor = Float64Array.from({ length: days }, () => Math.max(0.5, 1 + daySd * gaussian(random)));
  const out = new Float64Array(days * DAY_SECONDS);
  for (let s = 0; s < out.length; s++) {
    const m = Math.floor(s / 60);
    const w = (s % 60) / 60;
    const noise = minuteFactor[m]! * (1 - w) + minuteFactor[m + 1]! * w;
    const daySecond = s % DAY_SECONDS;
    out[s] = poisson(diurnalRate(daySecond, options.shape) * dayFactor[Math.floor(s / DAY_SECONDS)]! * noise * eventFactor(daySecond, options.events), random);
  }
  return out;
}

/** Per-minute means of per-second rates. */
export function perMinute(perSecond: Float64Array): Float64Array {
  const out = new Float64Array(Math.floor(perSecond.length / 60));
  for (let m = 0; m < out.length; m++) {
    let sum = 0;
    for (let s = m * 60; s < m * 60 + 60; s++) sum += perSecond[s]!;
    out[m] = sum / 60;
  }
  return out;
}
