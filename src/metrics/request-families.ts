// A front's per-request metrics: a counter by (endpoint, method, outcome) and a duration histogram by
// endpoint, with series resolved once and kept (three Map lookups per request, no label hashing, no
// allocation after the first request of a combination). The HTTP front labels them route, method,
// status; the gRPC front method, type, code. Other threads' counts (HTTP worker threads) come as
// snapshots and are summed in at scrape time: one exposition for the whole process.
import { BucketLayout, HistogramCell, ScrapeFamily, type Labels } from './family.js';

interface Series {
  readonly labels: Labels;
  count: number;
  readonly duration: HistogramCell;
}

export interface RequestFamilyNames {
  /** Counter name, and its help. */
  total: string;
  totalHelp: string;
  /** Histogram name, and its help. */
  duration: string;
  durationHelp: string;
  /** Label names of the three keys, in observe() order; the histogram carries the first only. */
  labels: readonly [string, string, string];
}

/** The counts of a RequestFamilies as plain data (structured-clone safe), cumulative since it started. */
export interface RequestSnapshot {
  /** [a, b, c, count] per series. */
  series: Array<[string, string, string, number]>;
  /** [a, per-bucket counts (not cumulative; the last is the overflow), sum] per duration histogram. */
  durations: Array<[string, number[], number]>;
}

export class RequestFamilies {
  readonly families: ScrapeFamily[];
  readonly #series = new Map<string, Map<string, Map<string | number, Series>>>();
  readonly #durations = new Map<string, HistogramCell>();
  readonly #names: RequestFamilyNames;
  readonly #layout: BucketLayout;
  #remote: () => readonly RequestSnapshot[] = () => [];

  constructor(names: RequestFamilyNames, buckets: Float64Array) {
    this.#names = names;
    this.#layout = new BucketLayout(buckets);
    this.families = [
      new ScrapeFamily(
        names.total,
        names.totalHelp,
        'counter',
        (out) => {
          const remote = this.#remote();
          if (remote.length === 0) {
            for (const byB of this.#series.values()) for (const byC of byB.values()) for (const s of byC.values()) out.push({ labels: s.labels, value: s.count });
            return;
          }
          const merged = new Map<string, { labels: Labels; value: number }>();
          const add = (a: string, b: string, c: string, count: number): void => {
            const key = `${a}\0${b}\0${c}`;
            const m = merged.get(key);
            if (m) m.value += count;
            else merged.set(key, { labels: this.#labels(a, b, c), value: count });
          };
          for (const [a, byB] of this.#series) for (const [b, byC] of byB) for (const [c, s] of byC) add(a, b, String(c), s.count);
          for (const snap of remote) for (const [a, b, c, count] of snap.series) add(a, b, c, count);
          for (const m of merged.values()) out.push(m);
        },
        () => this.#series.clear(),
      ),
      new ScrapeFamily(
        names.duration,
        names.durationHelp,
        'histogram',
        (out) => {
          const remote = this.#remote();
          if (remote.length === 0) {
            for (const cell of this.#durations.values()) cell.push(out, names.duration);
            return;
          }
          const merged = new Map<string, HistogramCell>();
          const add = (a: string, counts: ArrayLike<number>, sum: number): void => {
            let cell = merged.get(a);
            if (!cell) merged.set(a, (cell = new HistogramCell(this.#layout, { [this.#names.labels[0]]: a })));
            if (counts.length !== cell.counts.length) return; // another bucket layout: not summable
            for (let i = 0; i < counts.length; i++) cell.counts[i] = cell.counts[i]! + counts[i]!;
            cell.sum += sum;
          };
          for (const [a, cell] of this.#durations) add(a, cell.counts, cell.sum);
          for (const snap of remote) for (const [a, counts, sum] of snap.durations) add(a, counts, sum);
          for (const cell of merged.values()) cell.push(out, names.duration);
        },
        () => {
          this.#series.clear();
          this.#durations.clear();
        },
      ),
    ];
  }

  /** This thread's counts as plain data, for the thread that exposes the metrics. */
  snapshot(): RequestSnapshot {
    const series: RequestSnapshot['series'] = [];
    for (const [a, byB] of this.#series) for (const [b, byC] of byB) for (const [c, s] of byC) series.push([a, b, String(c), s.count]);
    const durations: RequestSnapshot['durations'] = [];
    for (const [a, cell] of this.#durations) durations.push([a, Array.from(cell.counts), cell.sum]);
    return { series, durations };
  }

  /** Adds other threads' snapshots (read at every scrape) to this one's series. */
  mergeFrom(remote: () => readonly RequestSnapshot[]): void {
    this.#remote = remote;
  }

  /** Requests counted by this thread. */
  total(): number {
    let n = 0;
    for (const byB of this.#series.values()) for (const byC of byB.values()) for (const s of byC.values()) n += s.count;
    return n;
  }

  #labels(a: string, b: string, c: string): Labels {
    const [la, lb, lc] = this.#names.labels;
    return { [la]: a, [lb]: b, [lc]: c };
  }

  /** Counts one request and observes its duration (NaN, negative or infinite durations only count). */
  observe(a: string, b: string, c: string | number, seconds: number): void {
    const series = this.#series.get(a)?.get(b)?.get(c) ?? this.#add(a, b, c);
    series.count++;
    if (seconds >= 0 && seconds !== Infinity) series.duration.observe(seconds);
  }

  #add(a: string, b: string, c: string | number): Series {
    let byB = this.#series.get(a);
    if (!byB) this.#series.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (!byC) byB.set(b, (byC = new Map()));
    let duration = this.#durations.get(a);
    if (!duration) this.#durations.set(a, (duration = new HistogramCell(this.#layout, { [this.#names.labels[0]]: a })));
    const [la, lb, lc] = this.#names.labels;
    const series: Series = { labels: { [la]: a, [lb]: b, [lc]: String(c) }, count: 0, duration };
    byC.set(c, series);
    return series;
  }
}
