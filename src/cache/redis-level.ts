// L2: Redis through ioredis, behind a circuit breaker. Binary values (getBuffer / SET PX), commands
// issued in the same tick go out as one pipeline (auto-pipelining), a short per-command timeout, no
// offline queue and no per-command retries: a command either runs now or fails now. Any failure of a
// timeout or connection kind opens the circuit: L2 is skipped for `retryMs`, after which one request
// probes it (half-open) while the others keep skipping; ioredis reconnects in the background every
// `retryMs`, and a fresh connection ('ready') closes the circuit at once.
import { Redis } from 'ioredis';
import type { CacheConfig } from './config.js';

export type L2State = 'connected' | 'open-circuit' | 'disabled' | 'connecting';

export interface CacheLogger {
  warn(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
}

/** Few values, for the error counter's label. */
export type L2ErrorReason = 'timeout' | 'connection' | 'reply' | 'decode' | 'collision';

export function classifyRedisError(err: unknown): L2ErrorReason {
  const msg = err instanceof Error ? err.message : String(err);
  if (/timed out|timeout/i.test(msg)) return 'timeout';
  // MaxRetriesPerRequestError: a command that was in flight when the connection dropped.
  if (/connection|stream isn't writeable|max retries|ECONN|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket|closed/i.test(msg)) return 'connection';
  return 'reply';
}

const redact = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

export class RedisLevel {
  readonly #client: Redis;
  readonly #retryMs: number;
  readonly #onError: (reason: L2ErrorReason) => void;
  readonly #log: CacheLogger | undefined;
  readonly #where: string;
  #state: 'connecting' | 'connected' | 'open' = 'connecting';
  #reopenAt = 0;
  #probing = false;
  #closed = false;

  private constructor(config: NonNullable<CacheConfig['redis']>, onError: (reason: L2ErrorReason) => void, log: CacheLogger | undefined) {
    this.#retryMs = config.retryMs ?? 1000;
    this.#onError = onError;
    this.#log = log;
    this.#where = redact(config.url);
    this.#client = new Redis(config.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      enableReadyCheck: true,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      commandTimeout: config.commandTimeoutMs ?? 50,
      connectTimeout: config.connectTimeoutMs ?? 1000,
      // Reconnect in the background at a steady pace until close(); requests never wait for it.
      retryStrategy: () => (this.#closed ? null : this.#retryMs),
      reconnectOnError: () => false,
    });
    this.#client.on('ready', () => {
      if (this.#state !== 'connected') this.#log?.info({ redis: this.#where }, 'response cache: Redis connected');
      this.#state = 'connected';
      this.#probing = false;
    });
    this.#client.on('close', () => {
      if (this.#state === 'connected' && !this.#closed) {
        this.#onError('connection');
        this.#open('connection lost');
      }
    });
    // Connection errors also surface as failed commands or 'close'; this listener only keeps them from
    // being reported as unhandled.
    this.#client.on('error', () => {});
  }

  /** Connects, waiting at most the connect timeout; never rejects (an unreachable Redis starts open). */
  static async open(config: NonNullable<CacheConfig['redis']>, onError: (reason: L2ErrorReason) => void, log: CacheLogger | undefined): Promise<RedisLevel> {
    const level = new RedisLevel(config, onError, log);
    const limit = (config.connectTimeoutMs ?? 1000) + 250;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        level.#client.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('connect timed out')), limit);
        }),
      ]);
    } catch (err) {
      if (level.#state !== 'connected') {
        onError(classifyRedisError(err));
        level.#open(`not reachable at start (${(err as Error).message}); retrying in the background`);
      }
    } finally {
      clearTimeout(timer);
    }
    return level;
  }

  get state(): L2State {
    if (this.#state === 'connected') return 'connected';
    if (this.#state === 'connecting') return 'connecting';
    return 'open-circuit';
  }

  /**
   * Whether a lookup should go to Redis now. In the open state, after `retryMs` exactly one caller gets
   * true (the probe); it must report back through succeeded() or failed().
   */
  tryAcquire(): boolean {
    if (this.#state === 'connected') return this.#client.status === 'ready';
    if (this.#state === 'open' && !this.#probing && performance.now() >= this.#reopenAt && this.#client.status === 'ready') {
      this.#probing = true;
      return true;
    }
    return false;
  }

  /** Whether writes go to Redis now (no probing with writes). */
  get writable(): boolean {
    return this.#state === 'connected' && this.#client.status === 'ready';
  }

  /** GET as a Buffer; rejects on any failure (the caller reports it through failed()). */
  get(key: string): Promise<Buffer | null> {
    return this.#client.getBuffer(key);
  }

  succeeded(): void {
    if (this.#state === 'open' && this.#probing) {
      this.#log?.info({ redis: this.#where }, 'response cache: Redis answers again; circuit closed');
      this.#state = 'connected';
    }
    this.#probing = false;
  }

  /** A command failed: count it, and open the circuit for timeouts and connection failures. */
  failed(err: unknown): void {
    const reason = classifyRedisError(err);
    this.#onError(reason);
    this.#probing = false;
    if (reason === 'timeout' || reason === 'connection') this.#open((err as Error)?.message ?? String(err));
  }

  /** Fire-and-forget SET with an optional TTL; failures are counted, never thrown. */
  set(key: string, value: Buffer, ttlMs: number | undefined): void {
    const done = ttlMs !== undefined ? this.#client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs))) : this.#client.set(key, value);
    done.catch((err: unknown) => {
      if (!this.#closed) this.failed(err);
    });
  }

  #open(why: string): void {
    if (this.#closed) return;
    const wasOpen = this.#state === 'open';
    this.#state = 'open';
    this.#reopenAt = performance.now() + this.#retryMs;
    if (!wasOpen) {
      this.#log?.warn({ redis: this.#where, retryMs: this.#retryMs, reason: why }, 'response cache: Redis unavailable; serving from L1 and compute, circuit open');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([this.#client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, 200)))]);
      } catch {
        // closing anyway
      } finally {
        clearTimeout(timer);
      }
    }
    this.#client.disconnect();
  }
}
