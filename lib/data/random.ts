/**
 * Counter-based randomness: every draw is a pure function of a key (seed, iteration, sample, purpose) and a position,
 * so the batch at iteration i never depends on which batches were drawn before it (exact resume).
 *
 * `keyOf` hashes the key words into 32 bits (murmur3-style finaliser per word); `Stream` is a SplitMix32-like
 * generator that hashes an incrementing counter — fast, stateless apart from the counter, and good enough for
 * augmentation and synthetic images (not for cryptography).
 */

/** Murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a safe integer into its low and high 32-bit words (negative numbers get a distinct high word). */
function words(n: number): [number, number] {
  if (!Number.isSafeInteger(n)) throw new RangeError(`random key part must be a safe integer, got ${n}`);
  const m = Math.abs(n);
  return [m >>> 0, (Math.floor(m / 0x100000000) | (n < 0 ? 0x80000000 : 0)) >>> 0];
}

/** A 32-bit key from integer parts (seed, iteration, sample index, purpose tag...). Order matters. */
export function keyOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    for (const w of words(part)) h = fmix32((h ^ w) + 0x7f4a7c15 + Math.imul(h, 31));
  }
  return h;
}

/** Deterministic stream of uniform and normal draws for one key. */
export class Stream {
  private counter = 0;
  private spareNormal: number | null = null;

  constructor(private readonly key: number) {}

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.counter = (this.counter + 1) >>> 0;
    return fmix32((this.key + Math.imul(this.counter, 0x9e3779b9)) >>> 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = (this.nextUint32() + 1) / 0x100000001; // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

/** Purpose tags, so that different uses of the same (seed, iteration, sample) draw unrelated numbers. */
export const Purpose = {
  syntheticShapes: 1,
  syntheticNoise: 2,
  niftiPick: 3,
  affineAugmentation: 4,
} as const;

/** The stream for one sample of one batch: the pure-function-of-(seed, iteration) contract in one place. */
export function sampleStream(seed: number, iteration: number, sample: number, purpose: number): Stream {
  return new Stream(keyOf(seed, iteration, sample, purpose));
}
