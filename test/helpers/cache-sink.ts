// A CacheSink that records what the cache reports, for assertions.
import type { CacheSink } from '../../src/cache/index.js';

export class RecordingSink implements CacheSink {
  readonly events: string[] = [];
  hit(level: string, model: string): void {
    this.events.push(`hit ${level} ${model}`);
  }
  miss(level: string, model: string, _s: number, final: boolean): void {
    this.events.push(`miss ${level} ${model}${final ? ' final' : ''}`);
  }
  error(level: string, reason: string): void {
    this.events.push(`error ${level} ${reason}`);
  }
  count(prefix: string): number {
    return this.events.filter((e) => e.startsWith(prefix)).length;
  }
}
