// A front's per-request metrics: a counter by (endpoint, method, outcome) and a duration histogram by
// endpoint, with series resolved once and kept (three Map lookups per request, no label hashing, no
// allocation after the first request of a combination). The HTTP front labels them route, method,
// status; the gRPC front method, type, code.
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

export class RequestFamilies {
  readonly families: ScrapeFamily[];
  readonly #series = new Map<string, Map<string, Map<string | number, Series>>>();
  readonly #durations = new Map<string, HistogramCell>();
  readonly #names: RequestFamilyNames;
  readonly #layout: BucketLayout;

  constructor(names: RequestFamilyNames, buckets: Float64Array) {
    this.#names = names;
    this.#layout = new BucketLayout(buckets);
    this.families = [
      new ScrapeFamily(
        names.total,
        names.totalHelp,
        'counter',
        (out) => {
          for (const byB of this.#series.values()) for (const byC of byB.values()) for (const s of byC.values()) out.push({ labels: s.labels, value: s.count });
        },
        () => this.#series.clear(),
      ),
      new ScrapeFamily(
        names.duration,
        names.durationHelp,
        'histogram',
        (out) => {
          for (const cell of this.#durations.values()) cell.push(out, names.duration);
        },
        () => {
          this.#series.clear();
          this.#durations.clear();
        },
      ),
    ];
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
