/** Converting tensor data to float32 (what training uses), including half-precision bit patterns. */
import type { Tensor } from './dtypes';
import { CheckpointError } from './errors';

/** IEEE binary16 bits → number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits (the upper half of a float32) → number. */
export function bfloat16ToNumber(bits: number): number {
  const f = new Float32Array(new Uint32Array([bits << 16]).buffer);
  return f[0];
}

/** Element values as numbers (int64 converted, possibly losing precision beyond 2^53); not for complex or string. */
export function toNumbers(t: Tensor): ArrayLike<number> {
  switch (t.dtype) {
    case 'float16':
      return Float64Array.from(t.data as Uint16Array, halfToNumber);
    case 'bfloat16':
      return Float64Array.from(t.data as Uint16Array, bfloat16ToNumber);
    case 'int64':
    case 'uint64':
      return Float64Array.from(t.data as BigInt64Array, (v) => Number(v));
    case 'complex64':
    case 'complex128':
    case 'string':
      throw new CheckpointError(`a ${t.dtype} tensor cannot be converted to real numbers`);
    default:
      return t.data as ArrayLike<number>;
  }
}

export function toFloat32(t: Tensor): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  return Float32Array.from(toNumbers(t));
}
