/**
 * CRC-32C (Castagnoli), as TensorFlow uses it for checkpoint blocks, tensors and TFRecord (event file) framing.
 * Large inputs go to @node-rs/crc32 (native, SIMD/SSE4.2; ~5x the JS speed), small ones and platforms without its
 * binary use slicing-by-8 tables over 32-bit words. `mask`/`unmask` are the LevelDB/TensorFlow masking of stored CRCs.
 */
const POLY = 0x82f63b78;
/** Eight 256-entry tables back to back: T[k * 256 + b] is the CRC of byte b followed by k zero bytes. */
const T: Int32Array = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) t[k * 256 + i] = (t[(k - 1) * 256 + i] >>> 8) ^ t[t[(k - 1) * 256 + i] & 0xff];
  }
  return t;
})();

type NativeCrc = (input: Uint8Array, initialState?: number) => number;
const native: NativeCrc | null = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@node-rs/crc32') as { crc32c: NativeCrc }).crc32c;
  } catch {
    return null;
  }
})();
/** Below this size the native call's overhead costs more than the table loop. */
const NATIVE_MIN_BYTES = 256;

function crc32cTables(crc: number, bytes: Uint8Array): number {
  let c = ~crc | 0;
  let i = 0;
  const n = bytes.length;
  // Slicing-by-8 reads two aligned little-endian 32-bit words per step.
  const head = Math.min(n, (4 - (bytes.byteOffset & 3)) & 3);
  for (; i < head; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  const words = (n - i) >>> 3 << 1;
  if (words > 0) {
    const w = new Int32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let j = 0; j < words; j += 2) {
      c ^= w[j];
      const d = w[j + 1];
      c = T[1792 + (c & 0xff)] ^ T[1536 + ((c >>> 8) & 0xff)] ^ T[1280 + ((c >>> 16) & 0xff)] ^ T[1024 + (c >>> 24)] ^
        T[768 + (d & 0xff)] ^ T[512 + ((d >>> 8) & 0xff)] ^ T[256 + ((d >>> 16) & 0xff)] ^ T[d >>> 24];
    }
    i += words << 2;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Extends `crc` (the CRC of earlier bytes, 0 to start) over `bytes`. */
export function crc32cExtend(crc: number, bytes: Uint8Array): number {
  if (native && bytes.length >= NATIVE_MIN_BYTES) return native(bytes, crc) >>> 0;
  return crc32cTables(crc, bytes);
}

export function crc32c(bytes: Uint8Array): number {
  return crc32cExtend(0, bytes);
}

const MASK_DELTA = 0xa282ead8;

/** The masked form TensorFlow stores (rotate right 15, add a constant), so CRCs of CRCs stay useful. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
