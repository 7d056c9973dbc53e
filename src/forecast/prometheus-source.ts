// Request-rate history from Prometheus's HTTP API (query_range), one value per minute. Used by
// `tensorgate forecast`, which runs next to Prometheus: its history spans every replica and survives
// scale to zero, which no replica's own history can.

/**
 * The cluster-wide request rate: every replica's inference requests, completed or failed (one selector,
 * so a missing failure series cannot empty the sum); 0 when no replica runs.
 */
export const DEFAULT_RATE_QUERY = 'sum(rate({__name__=~"nv_inference_request_(success|failure)"}[2m])) or vector(0)';

/** The replicas' own capacity measurement (`tensorgate serve --forecast`). */
export const DEFAULT_CAPACITY_QUERY = 'max(tensorgate_replica_capacity_rps)';

/** Prometheus refuses ranges of more than 11,000 points; ask in chunks below that. */
const MAX_POINTS = 10_000;

interface ApiResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }> };
}

export class PrometheusSource {
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs = 10_000,
  ) {}

  async #get(path: string, params: Record<string, string>): Promise<NonNullable<ApiResponse['data']>> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await response.text();
    let body: ApiResponse;
    try {
      body = JSON.parse(text) as ApiResponse;
    } catch {
      throw new Error(`Prometheus ${url.pathname}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (body.status !== 'success' || !body.data) throw new Error(`Prometheus ${url.pathname}: ${body.error ?? `HTTP ${response.status}`}`);
    return body.data;
  }

  /**
   * Per-minute values of `query` for minutes firstMinute..lastMinute (Unix minutes; the value at the end
   * of each minute, which a rate over the trailing window describes). NaN where Prometheus has none.
   * The query must return at most one series.
   */
  async minutes(query: string, firstMinute: number, lastMinute: number): Promise<Float64Array> {
    const out = new Float64Array(Math.max(0, lastMinute - firstMinute + 1)).fill(NaN);
    for (let from = firstMinute; from <= lastMinute; from += MAX_POINTS) {
      const to = Math.min(lastMinute, from + MAX_POINTS - 1);
      const data = await this.#get('api/v1/query_range', {
        query,
        start: String((from + 1) * 60),
        end: String((to + 1) * 60),
        step: '60',
      });
      if (data.result.length > 1) throw new Error(`the query must return one series, it returned ${data.result.length}: ${query}`);
      for (const [t, v] of data.result[0]?.values ?? []) {
        const minute = Math.round(t / 60) - 1;
        if (minute >= firstMinute && minute <= lastMinute) out[minute - firstMinute] = Number(v);
      }
    }
    return out;
  }

  /** The value of an instant query now, or undefined when it returns nothing; one series at most. */
  async instant(query: string): Promise<number | undefined> {
    const data = await this.#get('api/v1/query', { query });
    if (data.result.length > 1) throw new Error(`the query must return one series, it returned ${data.result.length}: ${query}`);
    const v = data.result[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  }
}
