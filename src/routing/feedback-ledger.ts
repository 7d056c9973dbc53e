// Which target served which request id, kept so that feedback (a bandit reward, an A/B outcome) sent
// later by id credits the right target. Bounded in time (ttl) and in memory (max ids): entries live
// in a ring of slots in arrival order, so expiry and eviction drop the oldest in O(1) and remembering
// an id is one Map.set. Each slot remembers which kinds of feedback it already got, so a duplicate is
// told apart from a first report; an id that expired or was evicted is unknown.

export type ClaimResult = { result: 'accepted'; target: number } | { result: 'duplicate' | 'unknown' };

/** A kind of feedback (0: the bandit reward, 1 + k: outcome k); each is accepted once per id. */
export type FeedbackKind = number;

export class FeedbackLedger {
  readonly ttlMs: number;
  readonly capacity: number;
  readonly #slots = new Map<string, number>();
  readonly #ids: Array<string | undefined>;
  readonly #times: Float64Array;
  readonly #targets: Int32Array;
  readonly #claimed: Uint32Array;
  /** Next slot to write; the oldest live slot is (#head - #size) mod capacity. */
  #head = 0;
  #size = 0;
  /** Ids forgotten because their ttl passed, or because newer ones needed the room. */
  expired = 0;
  evicted = 0;

  constructor(ttlMs: number, capacity: number) {
    this.ttlMs = ttlMs;
    this.capacity = capacity;
    this.#ids = new Array<string | undefined>(capacity);
    this.#times = new Float64Array(capacity);
    this.#targets = new Int32Array(capacity);
    this.#claimed = new Uint32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Records that request `id` was served by `target` at `now` (ms). A repeated id starts over. */
  remember(id: string, target: number, now: number): void {
    this.#expire(now);
    if (this.#size === this.capacity) {
      this.#drop(this.#oldest());
      this.evicted++;
    }
    const slot = this.#head;
    this.#head = (slot + 1) % this.capacity;
    this.#size++;
    this.#ids[slot] = id;
    this.#times[slot] = now;
    this.#targets[slot] = target;
    this.#claimed[slot] = 0;
    this.#slots.set(id, slot);
  }

  /** Claims feedback of `kind` for `id`: the target that served it, or why not. */
  claim(id: string, kind: FeedbackKind, now: number): ClaimResult {
    this.#expire(now);
    const slot = this.#slots.get(id);
    if (slot === undefined) return { result: 'unknown' };
    const bit = 1 << kind;
    if (this.#claimed[slot]! & bit) return { result: 'duplicate' };
    this.#claimed[slot]! |= bit;
    return { result: 'accepted', target: this.#targets[slot]! };
  }

  #oldest(): number {
    return (this.#head - this.#size + this.capacity) % this.capacity;
  }

  #expire(now: number): void {
    const limit = now - this.ttlMs;
    while (this.#size > 0) {
      const slot = this.#oldest();
      if (this.#times[slot]! > limit) break;
      this.#drop(slot);
      this.expired++;
    }
  }

  #drop(slot: number): void {
    const id = this.#ids[slot]!;
    if (this.#slots.get(id) === slot) this.#slots.delete(id);
    this.#ids[slot] = undefined;
    this.#size--;
  }
}
