// The recommender's catalog, shared by its JavaScript steps (and the tests' reference): deterministic
// embeddings for users, items and words (seeded from a hash of their key, so nothing is stored), item
// popularity (Zipf-like) and the tokenizer. A real service loads these from files in initialize().

export const DIM = 64; // the encoder's d_model
export const ITEMS = 1000;
export const TOPK = 10;
export const CANDIDATES = 64; // candidates the tree-ensemble fallback scores
export const FEATURES = 8; // the tree ensemble's input width
export const MAX_RECENT = 8;
export const MAX_WORDS = 7;

/** FNV-1a, 32 bits. */
export function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes the embedding of `key` (DIM values in [-0.5, 0.5)) into out at offset. */
export function embed(key, out, offset = 0) {
  const rng = mulberry32(hash32(key));
  for (let d = 0; d < DIM; d++) out[offset + d] = rng() - 0.5;
}

export const ITEM_EMBEDDINGS = (() => {
  const table = new Float32Array(ITEMS * DIM);
  for (let i = 0; i < ITEMS; i++) embed(`item:${i}`, table, i * DIM);
  return table;
})();

/** Item i's popularity: 1 / (i + 1)^0.8 (item 0 is the most popular). */
export const POPULARITY = Float32Array.from({ length: ITEMS }, (_, i) => 1 / Math.pow(i + 1, 0.8));

export function tokenize(text) {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** The indices of the k highest scores, highest first (ties: lower id first), skipping `exclude`. */
export function topK(ids, scores, k, exclude) {
  const order = [];
  for (let i = 0; i < scores.length; i++) if (!exclude.has(ids[i])) order.push(i);
  order.sort((a, b) => scores[b] - scores[a] || ids[a] - ids[b]);
  return order.slice(0, k);
}
