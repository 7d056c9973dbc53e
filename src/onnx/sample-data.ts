// Deterministic sample inputs for tests, examples and benchmarks: seeded, so the same call always
// gives the same values. No dependencies (runtime code may import it).

/** mulberry32: a small, fast, seeded PRNG with values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 5×9 lowercase bitmap font ('#' ink), rows top to bottom: x-height in rows 2–6, ascenders above, descenders below. */
const FONT: Record<string, string> = {
  a: '.....|.....|.###.|....#|.####|#...#|.####|.....|.....',
  b: '#....|#....|####.|#...#|#...#|#...#|####.|.....|.....',
  c: '.....|.....|.####|#....|#....|#....|.####|.....|.....',
  d: '....#|....#|.####|#...#|#...#|#...#|.####|.....|.....',
  e: '.....|.....|.###.|#...#|#####|#....|.###.|.....|.....',
  f: '..##.|.#...|####.|.#...|.#...|.#...|.#...|.....|.....',
  g: '.....|.....|.####|#...#|#...#|.####|....#|....#|.###.',
  h: '#....|#....|####.|#...#|#...#|#...#|#...#|.....|.....',
  i: '..#..|.....|.##..|..#..|..#..|..#..|.###.|.....|.....',
  j: '...#.|.....|..##.|...#.|...#.|...#.|...#.|#..#.|.##..',
  k: '#....|#....|#..#.|#.#..|##...|#.#..|#..#.|.....|.....',
  l: '.##..|..#..|..#..|..#..|..#..|..#..|.###.|.....|.....',
  m: '.....|.....|##.#.|#.#.#|#.#.#|#.#.#|#.#.#|.....|.....',
  n: '.....|.....|####.|#...#|#...#|#...#|#...#|.....|.....',
  o: '.....|.....|.###.|#...#|#...#|#...#|.###.|.....|.....',
  p: '.....|.....|####.|#...#|#...#|####.|#....|#....|#....',
  q: '.....|.....|.####|#...#|#...#|.####|....#|....#|....#',
  r: '.....|.....|#.##.|##...|#....|#....|#....|.....|.....',
  s: '.....|.....|.####|#....|.###.|....#|####.|.....|.....',
  t: '.#...|.#...|####.|.#...|.#...|.#..#|..##.|.....|.....',
  u: '.....|.....|#...#|#...#|#...#|#..##|.##.#|.....|.....',
  v: '.....|.....|#...#|#...#|#...#|.#.#.|..#..|.....|.....',
  w: '.....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.|.....|.....',
  x: '.....|.....|#...#|.#.#.|..#..|.#.#.|#...#|.....|.....',
  y: '.....|.....|#...#|#...#|#...#|.####|....#|#...#|.###.',
  z: '.....|.....|#####|...#.|..#..|.#...|#####|.....|.....',
};
const LETTERS = Object.keys(FONT);

/**
 * One PaddleOCR-normalized text-line image [3, h, w] in [-1, 1]: random lowercase words in a bitmap
 * font (dark ink on a light, slightly graded page, a little noise). `upsideDown` rotates it by 180°,
 * the case the OCR direction classifier detects.
 */
export function textLineImage(rng: () => number, h: number, w: number, upsideDown = false): Float32Array {
  const ink = new Float32Array(h * w);
  const scale = Math.max(1, Math.floor(h / 12));
  const top = Math.floor((h - 9 * scale) / 2);
  for (let x = 2 + Math.floor(rng() * 6); x + 5 * scale < w - 2; ) {
    if (rng() < 0.15) {
      x += 4 * scale; // a space between words
      continue;
    }
    const rows = FONT[LETTERS[Math.floor(rng() * LETTERS.length)]!]!.split('|');
    for (let r = 0; r < 9; r++) {
      for (let c = 0; c < 5; c++) {
        if (rows[r]![c] !== '#') continue;
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) ink[(top + r * scale + dy) * w + x + c * scale + dx] = 1;
      }
    }
    x += 6 * scale;
  }
  const image = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const paper = 0.9 - (0.15 * x) / w;
        const v = (ink[y * w + x] ? -0.85 : paper) + 0.04 * (rng() * 2 - 1);
        const [ty, tx] = upsideDown ? [h - 1 - y, w - 1 - x] : [y, x];
        image[(c * h + ty) * w + tx] = Math.max(-1, Math.min(1, v));
      }
    }
  }
  return image;
}

/** `count` text-line images as v2 JSON request bodies (one input `x` of [1, 3, h, w]); every other one upside down. */
export function textLineRequests(count: number, options: { h?: number; w?: number; seed?: number; input?: string } = {}): string[] {
  const { h = 48, w = 192, seed = 7, input = 'x' } = options;
  const rng = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const data = Array.from(textLineImage(rng, h, w, i % 2 === 1), (v) => Math.round(v * 1e4) / 1e4);
    return JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape: [1, 3, h, w], data }] });
  });
}
