// --state-redis URL: route state shared by every replica through Redis. Parts are JSON under
// `<prefix>route:<route>:<part>` (a hash of revision and JSON, so a Lua script can compare-and-set
// the canary's revision); counters are a hash that HINCRBYFLOAT adds each replica's deltas to. Short
// command timeouts and no offline queue: a Redis outage fails a state operation at once (the route
// keeps routing on what it knows and retries), it never blocks a request. Request ids for feedback
// are stored here too (`...:id:<id>`, with the feedback ttl) so that any replica takes the feedback.
import { Redis } from 'ioredis';
import type { ClaimResult } from './feedback-ledger.js';
import type { StatePart, StateStore } from './state-store.js';

const CAS = `
local current = redis.call('HGET', KEYS[1], 'revision')
if ARGV[1] ~= '' then
  local expected = tonumber(ARGV[1])
  local have = -1
  if current then have = tonumber(current) end
  if have ~= expected then return 0 end
end
redis.call('HSET', KEYS[1], 'revision', ARGV[2], 'json', ARGV[3])
return 1
`;

// Claims feedback of kind ARGV[1] for the id whose target is in KEYS[1]: -1 unknown (never stored or
// expired), -2 duplicate (this kind was claimed before, by any replica), else the target.
const CLAIM = `
local target = redis.call('GET', KEYS[1])
if not target then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return -2 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return tonumber(target)
`;

export interface RedisStateOptions {
  url: string;
  /** Key prefix (default 'tg:'). */
  prefix?: string;
  commandTimeoutMs?: number;
}

export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly shared = true;
  readonly #client: Redis;
  readonly #prefix: string;

  private constructor(options: RedisStateOptions) {
    this.#prefix = options.prefix ?? 'tg:';
    this.#client = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      enableAutoPipelining: true,
      connectTimeout: 2000,
      retryStrategy: () => 1000,
    });
    this.#client.on('error', () => {}); // failures surface as failed commands
  }

  /** Connects (rejects when Redis cannot be reached: the server does not start without its state). */
  static async open(options: RedisStateOptions): Promise<RedisStateStore> {
    const store = new RedisStateStore(options);
    try {
      await store.#client.connect();
    } catch (err) {
      store.#client.disconnect();
      throw new Error(`--state-redis: cannot connect to ${options.url.replace(/\/\/[^@/]*@/, '//***@')}: ${(err as Error).message}`);
    }
    return store;
  }

  #key(route: string, part: StatePart): string {
    return `${this.#prefix}route:${route}:${part}`;
  }

  async get(route: string, part: StatePart): Promise<unknown> {
    if (part === 'counters') return undefined;
    const json = await this.#client.hget(this.#key(route, part), 'json');
    return json === null ? undefined : (JSON.parse(json) as unknown);
  }

  async put(route: string, part: StatePart, value: object, expectRevision?: number): Promise<boolean> {
    const revision = (value as { revision?: unknown }).revision;
    const done = await this.#client.eval(
      CAS,
      1,
      this.#key(route, part),
      expectRevision === undefined ? '' : String(expectRevision),
      typeof revision === 'number' ? String(revision) : '0',
      JSON.stringify(value),
    );
    return done === 1;
  }

  async addCounters(route: string, deltas: Record<string, number>): Promise<Record<string, number>> {
    const key = this.#key(route, 'counters');
    const multi = this.#client.multi();
    for (const [field, d] of Object.entries(deltas)) multi.hincrbyfloat(key, field, d);
    multi.hgetall(key);
    const results = await multi.exec();
    if (!results) throw new Error('redis transaction aborted');
    const last = results[results.length - 1]!;
    if (last[0]) throw last[0];
    const totals: Record<string, number> = {};
    for (const [field, v] of Object.entries(last[1] as Record<string, string>)) totals[field] = Number(v);
    return totals;
  }

  async rememberIds(route: string, entries: ReadonlyArray<[string, number]>, ttlMs: number): Promise<void> {
    const pipeline = this.#client.pipeline();
    for (const [id, target] of entries) pipeline.set(this.#idKey(route, id), String(target), 'PX', Math.ceil(ttlMs));
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('redis pipeline aborted');
  }

  async claimIds(route: string, claims: ReadonlyArray<[string, number]>, ttlMs: number): Promise<ClaimResult[]> {
    const pipeline = this.#client.pipeline();
    for (const [id, kind] of claims) {
      const key = this.#idKey(route, id);
      pipeline.eval(CLAIM, 2, key, `${key}:claimed`, String(kind), String(Math.ceil(ttlMs)));
    }
    const results = await pipeline.exec();
    if (!results) throw new Error('redis pipeline aborted');
    return results.map(([err, value]): ClaimResult => {
      if (err) throw err;
      const v = Number(value);
      return v === -1 ? { result: 'unknown' } : v === -2 ? { result: 'duplicate' } : { result: 'accepted', target: v };
    });
  }

  #idKey(route: string, id: string): string {
    return `${this.#prefix}route:${route}:id:${id}`;
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
