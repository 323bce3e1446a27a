/**
 * DenseVNet's training-time augmentation as NiftyNet computes it (niftynet/layer/affine_augmentation.py,
 * grid_warper.py, resampler.py): per batch item, the corners of the [-1, 1]^d box are scaled by uniform draws in
 * [1 - scale, 1) and a least-squares affine T maps output corners to those source corners; the input is resampled
 * at T·p (relative coordinates mapped to voxels as (c + 1)·(size − 1)/2) with linear interpolation and NiftyNet's
 * ZERO boundary, and the output is warped back with T⁻¹. The draws come from the caller (pure in seed, iteration),
 * the sampling positions and weights are computed here once per step, and the resampling is gathers and products in
 * the engine, so gradients flow to the warped tensor.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from '../backend';

type Tensor = tfTypes.Tensor;

/** `batch` transforms, each a row-major (dims+1)×(dims+1) matrix, for an augmentation of this scale. */
export type AffineSampler = (batch: number, dims: 2 | 3, scale: number) => Float32Array;

/** NiftyNet's get_relative_corners: every corner of [-1, 1]^d, the last axis varying fastest. */
function relativeCorners(dims: number): number[][] {
  return Array.from({ length: 2 ** dims }, (_, i) =>
    Array.from({ length: dims }, (_, a) => ((i >> (dims - 1 - a)) & 1) * 2 - 1));
}

/**
 * _random_transform: source corners = corners · uniform(1 − scale, 1), T = lstsq(corners₁, source₁)ᵀ. The corner
 * matrix has orthogonal columns of squared norm 2^d, so the least-squares solution is Aᵀ·B / 2^d.
 */
export function randomAffineTransforms(uniform: () => number, batch: number, dims: 2 | 3, scale: number): Float32Array {
  const n = dims + 1;
  const corners = relativeCorners(dims);
  const out = new Float32Array(batch * n * n);
  for (let b = 0; b < batch; b++) {
    const source = corners.map((c) => [...c.map((v) => v * (1 - scale + scale * uniform())), 1]);
    const a = corners.map((c) => [...c, 1]);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < corners.length; k++) sum += a[k][j] * source[k][i];
        out[b * n * n + i * n + j] = sum / corners.length;
      }
    }
  }
  return out;
}

/** Inverse of each n×n matrix (Gauss-Jordan with partial pivoting, in double precision). */
export function invertTransforms(transforms: Float32Array, n: number): Float32Array {
  const out = new Float32Array(transforms.length);
  for (let offset = 0; offset < transforms.length; offset += n * n) {
    const m = Array.from({ length: n }, (_, i) => [
      ...Array.from(transforms.subarray(offset + i * n, offset + (i + 1) * n)),
      ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
    ]);
    for (let col = 0; col < n; col++) {
      let pivot = col;
      for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
      [m[col], m[pivot]] = [m[pivot], m[col]];
      const p = m[col][col];
      for (let c = 0; c < 2 * n; c++) m[col][c] /= p;
      for (let r = 0; r < n; r++) {
        if (r === col) continue;
        const f = m[r][col];
        for (let c = 0; c < 2 * n; c++) m[r][c] -= f * m[col][c];
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[offset + i * n + j] = m[i][n + j];
  }
  return out;
}

const f32 = Math.fround;

/**
 * Gather indices and weights of NiftyNet's linear resampling at T·p for every output voxel p of a tensor of spatial
 * size `size` (source and output grids have the same size). Per axis: floor/ceil clamped to the volume (the ZERO
 * boundary: clamped knots make the two weights cancel outside), w0 = x − floor, w1 = ceil − x.
 */
function samplingPlan(transforms: Float32Array, batch: number, size: number[]) {
  const dims = size.length;
  const n = dims + 1;
  const voxels = size.reduce((a, b) => a * b, 1);
  const strides = size.map((_, a) => size.slice(a + 1).reduce((p, s) => p * s, 1));
  const floorIdx = Array.from({ length: dims }, () => new Int32Array(batch * voxels));
  const ceilIdx = Array.from({ length: dims }, () => new Int32Array(batch * voxels));
  const w0 = Array.from({ length: dims }, () => new Float32Array(batch * voxels));
  const w1 = Array.from({ length: dims }, () => new Float32Array(batch * voxels));
  const grid = size.map((s) => Array.from({ length: s }, (_, i) => (s === 1 ? -1 : f32(-1 + (2 * i) / (s - 1)))));
  const position = new Array<number>(dims);
  for (let b = 0; b < batch; b++) {
    const t = transforms.subarray(b * n * n, (b + 1) * n * n);
    for (let v = 0; v < voxels; v++) {
      for (let a = 0; a < dims; a++) position[a] = grid[a][Math.floor(v / strides[a]) % size[a]];
      for (let a = 0; a < dims; a++) {
        const half = (size[a] - 1) * 0.5;
        let rel = 0;
        for (let j = 0; j < dims; j++) rel = f32(rel + f32(t[a * n + j] * f32(position[j] * half)));
        const x = f32(f32(rel + f32(t[a * n + dims] * half)) + half);
        const base = Math.floor(x);
        const lo = Math.min(Math.max(base, 0), size[a] - 1);
        const hi = Math.min(Math.max(base + 1, 0), size[a] - 1);
        const k = b * voxels + v;
        floorIdx[a][k] = lo;
        ceilIdx[a][k] = hi;
        w0[a][k] = f32(x - lo);
        w1[a][k] = f32(hi - x);
      }
    }
  }
  return { dims, voxels, strides, floorIdx, ceilIdx, w0, w1 };
}

/**
 * The gather indices of the 2^d knots (into x flattened to [B·voxels, C], the last axis' bit fastest) and the
 * per-axis weights w0, w1 of NiftyNet's linear resampling at T·p: the engine-neutral half of a warp, which any
 * engine combines as _pyramid_combination does (resample below; the graph engine feeds them per step).
 */
export function warpGather(transforms: Float32Array, batch: number, size: number[]) {
  const plan = samplingPlan(transforms, batch, size);
  const knots = Array.from({ length: 2 ** plan.dims }, (_, id) => {
    const index = new Int32Array(batch * plan.voxels);
    for (let k = 0; k < index.length; k++) {
      let offset = Math.floor(k / plan.voxels) * plan.voxels;
      for (let a = 0; a < plan.dims; a++) {
        const bit = (id >> (plan.dims - 1 - a)) & 1;
        offset += (bit ? plan.ceilIdx[a][k] : plan.floorIdx[a][k]) * plan.strides[a];
      }
      index[k] = offset;
    }
    return index;
  });
  return { dims: plan.dims, voxels: plan.voxels, knots, w0: plan.w0, w1: plan.w1 };
}

/**
 * NiftyNet's _pyramid_combination over the knots' samples (each [B·voxels, C]) with weights w0, w1 per axis (each
 * [B·voxels, 1]), in any engine: f0·w1 + f1·w0 along the last axis first.
 */
export function pyramidCombination<T>(samples: T[], w0: T[], w1: T[], ops: { mul(a: T, b: T): T; add(a: T, b: T): T }): T {
  const combine = (s: T[], axes: number): T => {
    if (axes === 1) return ops.add(ops.mul(s[0], w1[0]), ops.mul(s[1], w0[0]));
    const f0 = combine(s.filter((_, i) => i % 2 === 0), axes - 1);
    const f1 = combine(s.filter((_, i) => i % 2 === 1), axes - 1);
    return ops.add(ops.mul(f0, w1[axes - 1]), ops.mul(f1, w0[axes - 1]));
  };
  return combine(samples, w0.length);
}

/** Resamples x [B, ...size, C] at the plan's positions: NiftyNet's _pyramid_combination of the 2^d knots. */
function resample(tf: Tf, x: Tensor, transforms: Float32Array): Tensor {
  const [batch, ...rest] = x.shape;
  const size = rest.slice(0, -1);
  const channels = rest[rest.length - 1];
  const plan = warpGather(transforms, batch, size);
  const flat = x.reshape([batch * plan.voxels, channels]);
  const knots = plan.knots.map((index) => tf.gather(flat, tf.tensor1d(index, 'int32')));
  const weights = (w: Float32Array[]) => w.map((a) => tf.tensor2d(a, [a.length, 1]));
  return pyramidCombination(knots, weights(plan.w0), weights(plan.w1), { mul: (a, b) => a.mul(b), add: (a, b) => a.add(b) })
    .reshape(x.shape);
}

/** The warped input and the inverse warp (for the network's output, at any spatial size). */
export function affineWarp(tf: Tf, x: Tensor, transforms: Float32Array): { output: Tensor; inverse: (y: Tensor) => Tensor } {
  const n = x.rank - 1;
  const inverse = invertTransforms(transforms, n);
  return { output: resample(tf, x, transforms), inverse: (y) => resample(tf, y, inverse) };
}
