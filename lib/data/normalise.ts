/** Intensity normalisation of one image, in place, per channel (channels are the slowest axis). */
import type { NiftiDataConfig } from '../pipeline/plan';

export type Normalisation = NiftiDataConfig['normalisation'];

function zscore(v: Float32Array): void {
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) * (x - mean);
  const sd = Math.sqrt(sq / v.length) || 1; // a constant image becomes zeros, not NaNs
  for (let i = 0; i < v.length; i++) v[i] = (v[i] - mean) / sd;
}

function minmax(v: Float32Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const range = hi - lo || 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] - lo) / range;
}

export function normaliseChannels(image: Float32Array, channels: number, how: Normalisation): void {
  if (how === 'none') return;
  const per = image.length / channels;
  for (let c = 0; c < channels; c++) {
    const channel = image.subarray(c * per, (c + 1) * per);
    if (how === 'zscore') zscore(channel);
    else minmax(channel);
  }
}
