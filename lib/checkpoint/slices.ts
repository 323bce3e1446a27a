/**
 * Partitioned (sliced) variables: the bundle key of each stored piece (TensorFlow's EncodeTensorNameSlice, an
 * OrderedCode encoding) and copying a piece into the whole tensor.
 */
import type { DecodedSlice } from './protos';

/** OrderedCode WriteNumIncreasing: a length byte, then the value big-endian without leading zero bytes. */
function numIncreasing(value: number): number[] {
  const digits: number[] = [];
  let v = BigInt(value);
  while (v > 0n) {
    digits.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return [digits.length, ...digits];
}

/** OrderedCode WriteString: 0x00 → 00 ff, 0xff → ff 00, then the separator 00 01. */
function orderedString(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of bytes) {
    if (b === 0x00) out.push(0x00, 0xff);
    else if (b === 0xff) out.push(0xff, 0x00);
    else out.push(b);
  }
  out.push(0x00, 0x01);
  return out;
}

/**
 * OrderedCode WriteSignedNumIncreasing: 1–10 bytes, big-endian two's complement, whose leading bits (copies of the
 * sign bit's complement) give the length so byte order equals numeric order.
 */
const LENGTH_HEADER: [number, number][] = [
  [0, 0], [0x80, 0], [0xc0, 0], [0xe0, 0], [0xf0, 0], [0xf8, 0], [0xfc, 0], [0xfe, 0], [0xff, 0], [0xff, 0x80], [0xff, 0xc0],
];

function signedNumIncreasing(value: number): number[] {
  const v = BigInt(value);
  const x = v < 0n ? ~v : v;
  if (x < 64n) return [Number((0x80n ^ BigInt.asUintN(8, v)) & 0xffn)];
  const bitLength = x.toString(2).length;
  const n = Math.floor(bitLength / 7) + 1;
  const buf = new Array<number>(10).fill(v < 0n ? 0xff : 0);
  const u = BigInt.asUintN(64, v);
  for (let i = 0; i < 8; i++) buf[2 + i] = Number((u >> BigInt(8 * (7 - i))) & 0xffn);
  const p = buf.slice(10 - n);
  p[0] ^= LENGTH_HEADER[n][0];
  p[1] ^= LENGTH_HEADER[n][1];
  return p;
}

/** The bundle key under which one piece of a partitioned variable is stored. */
export function sliceKey(name: string, slice: DecodedSlice): Uint8Array {
  const out = [...numIncreasing(0), ...orderedString(Buffer.from(name, 'utf8')), ...numIncreasing(slice.extents.length)];
  for (const e of slice.extents) {
    // A full extent (no length) is start 0, length -1, as TensorSlice stores it.
    out.push(...signedNumIncreasing(e.length === null ? 0 : e.start), ...signedNumIncreasing(e.length ?? -1));
  }
  return Uint8Array.from(out);
}

/** Shape of one piece of a variable of shape `full`. */
export function sliceShape(full: readonly number[], slice: DecodedSlice): number[] {
  return full.map((d, i) => slice.extents[i]?.length ?? d);
}

/** Copies a piece (row-major, `lanes` array elements per tensor element) into the whole tensor's array. */
export function copySliceInto<T extends { set(a: ArrayLike<unknown>, o: number): void; subarray(a: number, b: number): T }>(
  target: T, full: readonly number[], piece: T, slice: DecodedSlice, lanes: number,
): void {
  const rank = full.length;
  if (rank === 0) {
    target.set(piece.subarray(0, lanes) as unknown as ArrayLike<unknown>, 0);
    return;
  }
  const starts = full.map((_, i) => (slice.extents[i]?.length == null ? 0 : slice.extents[i].start));
  const shape = sliceShape(full, slice);
  const strides = new Array<number>(rank).fill(lanes);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * full[i + 1];
  const run = shape[rank - 1] * lanes;
  const outer = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < outer; r++) {
    let offset = starts[rank - 1] * lanes;
    for (let i = 0; i < rank - 1; i++) offset += (starts[i] + idx[i]) * strides[i];
    target.set(piece.subarray(r * run, (r + 1) * run) as unknown as ArrayLike<unknown>, offset);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
}
