/**
 * LayerOps emitting TensorFlow graph nodes: the third implementation of thaw's layer vocabulary (beside the shape
 * tracer and TensorFlow.js), op for op what tfjs-ops.ts runs eagerly — the same TensorFlow kernels in the same
 * order (Conv3D, tf.moments as Mean/Sub/Square/Mean, batch_normalization as Rsqrt/Mul/AddV2, TF1 ResizeBilinear, …)
 * — so both engines compute the same maths. Training mode only (the graph engine trains; evaluation is tfjs').
 *
 * Batch norm records its moving-average updates (applied by the step after the forward pass, as NiftyNet does);
 * frozen batch norms normalise with their moving statistics unless `frozenBatchNorm` is 'batch'. DenseVNet's
 * augmentation gathers at positions that change every step: they are placeholders, fed per iteration from
 * (seed, iteration).
 */
import type { FrozenBatchNorm } from '../../../pipeline/plan';
import type { Activation, ConvOptions, DeconvOptions, LayerOps, PoolOptions } from '../../networks/types';
import { invertTransforms, pyramidCombination, warpGather, type AffineSampler } from '../affine-warp';
import { BN_EPSILON, BN_MOVING_DECAY, INSTANCE_NORM_EPSILON } from '../tfjs-ops';
import type { GraphBuilder, Sym } from './graph';
import { tile } from './gradients';

export interface GraphVariables {
  /** The value of variable `name` in this step (one ReadVariableOp per variable). */
  read(name: string): Sym;
}

/** A placeholder fed every step, with its value for the step's (seed, iteration) sampler. */
export interface StepFeed {
  sym: Sym;
  value(sampler: AffineSampler): Int32Array | Float32Array;
}

export interface GraphMode {
  frozenLayers: ReadonlySet<string>;
  frozenBatchNorm: FrozenBatchNorm;
  /** Whether DenseVNet's random affine augmentation runs (training with a sampler). */
  augment: boolean;
}

const F32 = { T: { type: 'float32' as const } };

export class GraphLayerOps implements LayerOps<Sym> {
  /** New values of batch-norm state by variable name, assigned by the step. */
  readonly bnUpdates = new Map<string, Sym>();
  readonly stepFeeds: StepFeed[] = [];
  private warps = 0;

  constructor(private readonly g: GraphBuilder, readonly dims: 2 | 3, private readonly vars: GraphVariables, private readonly mode: GraphMode) {}

  private spatialAxes(): number[] {
    return this.dims === 2 ? [1, 2] : [1, 2, 3];
  }

  private in<T>(scope: string, fn: () => T): T {
    return this.g.inScope(scope, fn);
  }

  private convPlain(x: Sym, w: Sym, stride: number, padding: 'SAME' | 'VALID'): Sym {
    const d = this.dims;
    const ones = Array(d + 2).fill(1);
    const strides = [1, ...Array(d).fill(stride), 1];
    return this.g.op1(d === 2 ? 'Conv2D' : 'Conv3D', [x, w], {
      ...F32, strides: { ints: strides }, padding: { str: padding }, data_format: { str: d === 2 ? 'NHWC' : 'NDHWC' },
      dilations: { ints: ones },
    });
  }

  private spaceToBatchND(x: Sym, block: number[], paddings: [number, number][]): Sym {
    const g = this.g;
    return g.op1('SpaceToBatchND', [x, g.ints(block), g.constant('int32', [paddings.length, 2], paddings.flat())],
      { ...F32, Tblock_shape: { type: 'int32' }, Tpaddings: { type: 'int32' } });
  }

  private batchToSpaceND(x: Sym, block: number[], crops: [number, number][]): Sym {
    const g = this.g;
    return g.op1('BatchToSpaceND', [x, g.ints(block), g.constant('int32', [crops.length, 2], crops.flat())],
      { ...F32, Tblock_shape: { type: 'int32' }, Tcrops: { type: 'int32' } });
  }

  /** tf.nn.convolution's dilated SAME convolution: space-to-batch, VALID convolution, batch-to-space (as tfjs-ops). */
  private convDilated(x: Sym, w: Sym, k: number, rate: number): Sym {
    const span = (k - 1) * rate;
    const before = Math.floor(span / 2);
    const paddings: [number, number][] = [];
    const crops: [number, number][] = [];
    for (const a of this.spatialAxes()) {
      const padded = x.shape[a] + span;
      const extra = (rate - (padded % rate)) % rate;
      paddings.push([before, span - before + extra]);
      crops.push([0, extra]);
    }
    const block = this.spatialAxes().map(() => rate);
    const y = this.convPlain(this.spaceToBatchND(x, block, paddings), w, 1, 'VALID');
    return this.batchToSpaceND(y, block, crops);
  }

  conv(x: Sym, scope: string, o: ConvOptions): Sym {
    return this.in(scope, () => {
      const w = this.vars.read(`${scope}/w`);
      const dilation = o.dilation ?? 1;
      const padding = o.padding ?? 'SAME';
      let y: Sym;
      if (dilation > 1 && o.kernel > 1) {
        if (padding !== 'SAME' || (o.stride ?? 1) !== 1) throw new Error(`${scope}: dilated convolutions are SAME with stride 1 only`);
        y = this.convDilated(x, w, o.kernel, dilation);
      } else {
        y = this.convPlain(x, w, o.stride ?? 1, padding);
      }
      return o.bias ? this.g.add(y, this.vars.read(`${scope}/b`)) : y;
    });
  }

  deconv(x: Sym, scope: string, o: DeconvOptions): Sym {
    return this.in(scope, () => {
      const g = this.g;
      const w = this.vars.read(`${scope}/w`);
      const stride = o.stride ?? 1;
      const padding = o.padding ?? 'SAME';
      const spatial = x.shape.slice(1, -1).map((s) => (padding === 'VALID' ? s * stride + Math.max(o.kernel - stride, 0) : s * stride));
      const outShape = [x.shape[0], ...spatial, o.filters];
      const d = this.dims;
      const attrs = {
        ...F32, strides: { ints: [1, ...Array(d).fill(stride), 1] }, padding: { str: padding },
        data_format: { str: d === 2 ? 'NHWC' : 'NDHWC' }, dilations: { ints: Array(d + 2).fill(1) },
      };
      const y = d === 2
        ? g.op1('Conv2DBackpropInput', [g.ints(outShape), w, x], attrs)
        : g.op1('Conv3DBackpropInputV2', [g.ints(outShape), w, x], { ...attrs, Tshape: { type: 'int32' } });
      return o.bias ? g.add(y, this.vars.read(`${scope}/b`)) : y;
    });
  }

  /** tf.moments as tfjs computes it (mean, then the mean of squared deviations), NiftyNet's stop_gradient on the mean. */
  private moments(x: Sym, axes: number[], keepDims: boolean): { mean: Sym; variance: Sym } {
    const g = this.g;
    const mean = g.reduce('Mean', x, axes, keepDims);
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const centre = g.op1('StopGradient', [g.reshape(mean, kept)], F32);
    const variance = g.reduce('Mean', g.unary('Square', g.sub(x, centre)), axes, keepDims);
    return { mean, variance };
  }

  batchNorm(x: Sym, scope: string): Sym {
    return this.in(scope, () => {
      const beta = this.vars.read(`${scope}/beta`);
      const gamma = this.vars.read(`${scope}/gamma`);
      const frozen = this.mode.frozenLayers.has(scope);
      if (frozen && this.mode.frozenBatchNorm === 'moving') {
        return this.normalise(x, this.vars.read(`${scope}/moving_mean`), this.vars.read(`${scope}/moving_variance`), beta, gamma, BN_EPSILON);
      }
      const { mean, variance } = this.moments(x, [0, ...this.spatialAxes()], false);
      this.recordMovingUpdates(scope, mean, variance);
      return this.normalise(x, mean, variance, beta, gamma, BN_EPSILON);
    });
  }

  /** TF's assign_moving_average with zero debiasing, in tfjs-ops' order of float32 operations (not differentiated). */
  private recordMovingUpdates(scope: string, mean: Sym, variance: Sym): void {
    const g = this.g;
    g.untaped(() => {
      const decay = g.scalar(1 - BN_MOVING_DECAY);
      const one = g.scalar(1);
      for (const [name, value] of [['moving_mean', mean], ['moving_variance', variance]] as const) {
        const debias = `${scope}/${scope}/${name}`;
        const biased = this.vars.read(`${debias}/biased`);
        const localStep = this.vars.read(`${debias}/local_step`);
        const newBiased = g.sub(biased, g.mul(g.sub(biased, value), decay));
        const newStep = g.add(localStep, one);
        const biasFactor = g.sub(one, g.binary('Pow', g.sub(one, decay), newStep));
        this.bnUpdates.set(`${debias}/biased`, newBiased);
        this.bnUpdates.set(`${debias}/local_step`, newStep);
        this.bnUpdates.set(`${scope}/${name}`, g.div(newBiased, biasFactor));
      }
    });
  }

  /** tf.nn.batch_normalization: inv = rsqrt(variance + ε)·γ; x·inv + (β − mean·inv). */
  private normalise(x: Sym, mean: Sym, variance: Sym, beta: Sym, gamma: Sym, epsilon: number): Sym {
    const g = this.g;
    const inv = g.mul(g.unary('Rsqrt', g.add(variance, g.scalar(epsilon))), gamma);
    return g.add(g.mul(x, inv), g.sub(beta, g.mul(mean, inv)));
  }

  instanceNorm(x: Sym, scope: string): Sym {
    return this.in(scope, () => {
      const { mean, variance } = this.moments(x, this.spatialAxes(), true);
      return this.normalise(x, mean, variance, this.vars.read(`${scope}/InstanceNorm/beta`), this.vars.read(`${scope}/InstanceNorm/gamma`),
        INSTANCE_NORM_EPSILON);
    });
  }

  activation(x: Sym, func: Activation, scope: string): Sym {
    const g = this.g;
    return this.in(scope, () => {
      switch (func) {
        case 'relu':
          return g.unary('Relu', x);
        case 'relu6':
          return g.unary('Relu6', x);
        case 'elu':
          return g.unary('Elu', x);
        case 'softplus':
          return g.unary('Softplus', x);
        case 'softsign':
          return g.div(x, g.add(g.unary('Abs', x), g.scalar(1)));
        case 'sigmoid':
          return g.unary('Sigmoid', x);
        case 'tanh':
          return g.unary('Tanh', x);
        case 'prelu':
          return g.add(g.unary('Relu', x), g.mul(g.mul(this.vars.read(`${scope}/alpha`), g.sub(x, g.unary('Abs', x))), g.scalar(0.5)));
        case 'selu': {
          const alpha = 1.6732632423543772;
          const scale = 1.0507009873554805;
          const positive = g.binary('GreaterEqual', x, g.scalar(0));
          return g.mul(g.select(positive, x, g.mul(g.unary('Elu', x), g.scalar(alpha))), g.scalar(scale));
        }
        case 'leakyrelu':
          return g.add(g.mul(x, g.scalar(0.5 + 0.01)), g.mul(g.unary('Abs', x), g.scalar(0.5 - 0.01)));
      }
    });
  }

  add(a: Sym, b: Sym): Sym {
    return this.g.add(a, b);
  }

  concat(xs: Sym[]): Sym {
    return xs.length === 1 ? xs[0] : this.g.concat(xs, -1);
  }

  padChannels(x: Sym, before: number, after: number): Sym {
    if (before === 0 && after === 0) return x;
    const rank = x.shape.length;
    return this.g.pad(x, x.shape.map((_, i): [number, number] => (i === rank - 1 ? [before, after] : [0, 0])));
  }

  crop(x: Sym, border: number): Sym {
    if (border === 0) return x;
    const last = x.shape.length - 1;
    const begin = x.shape.map((_, i) => (i === 0 || i === last ? 0 : border));
    const size = x.shape.map((d, i) => (i === 0 || i === last ? d : d - 2 * border));
    return this.g.slice(x, begin, size);
  }

  pool(x: Sym, o: PoolOptions): Sym {
    const d = this.dims;
    const type = (o.func === 'MAX' ? 'MaxPool' : 'AvgPool') + (d === 3 ? '3D' : '');
    return this.g.op1(type, [x], {
      ...F32, ksize: { ints: [1, ...Array(d).fill(o.kernel), 1] }, strides: { ints: [1, ...Array(d).fill(o.stride), 1] },
      padding: { str: o.padding ?? 'SAME' }, data_format: { str: d === 2 ? 'NHWC' : 'NDHWC' },
    });
  }

  private bilinear(t: Sym, hw: number[]): Sym {
    return this.g.op1('ResizeBilinear', [t, this.g.ints(hw)], { ...F32, align_corners: { bool: false }, half_pixel_centers: { bool: false } });
  }

  /** NiftyNet's LinearResizeLayer, through the reshapes and transposes tfjs-ops uses in 3-D. */
  linearResize(x: Sym, size: number[]): Sym {
    const g = this.g;
    if (this.dims === 2) return this.bilinear(x, size);
    const [b, xs, ys, zs, c] = x.shape;
    const [xn, yn, zn] = size;
    if (xs === xn && ys === yn && zs === zn) return x;
    const byX = g.reshape(this.bilinear(g.reshape(x, [b * xs, ys, zs, c]), [yn, zn]), [b, xs, yn, zn, c]);
    const reoriented = g.transpose(byX, [0, 3, 2, 1, 4]);
    const byZ = g.reshape(this.bilinear(g.reshape(reoriented, [b * zn, yn, xs, c]), [yn, xn]), [b, zn, yn, xn, c]);
    return g.transpose(byZ, [0, 3, 2, 1, 4]);
  }

  spaceToBatch(x: Sym, factor: number): Sym {
    const axes = this.spatialAxes();
    return this.spaceToBatchND(x, axes.map(() => factor), axes.map((): [number, number] => [0, 0]));
  }

  batchToSpace(x: Sym, factor: number): Sym {
    const axes = this.spatialAxes();
    return this.batchToSpaceND(x, axes.map(() => factor), axes.map((): [number, number] => [0, 0]));
  }

  tileChannels(x: Sym, times: number): Sym {
    const last = x.shape.length - 1;
    return tile(this.g, x, x.shape.map((_, i) => (i === last ? times : 1)));
  }

  constantVariable(name: string): Sym {
    return this.vars.read(name);
  }

  log(x: Sym): Sym {
    return this.g.unary('Log', x);
  }

  /**
   * DenseVNet's random affine warp: x resampled at T·p by gathers of the 2^d knots and NiftyNet's pyramid
   * combination; the knots' indices and weights are placeholders fed each step for that step's transforms (and
   * their inverses for the output).
   */
  affineAugmentation(x: Sym, scale: number): { output: Sym; inverse: (y: Sym) => Sym } | null {
    if (!this.mode.augment) return null;
    const batch = x.shape[0];
    const dims = this.dims;
    const transformsOf = (sampler: AffineSampler) => sampler(batch, dims, scale);
    let cached: { sampler: AffineSampler; forward: Float32Array; inverse: Float32Array } | null = null;
    const transforms = (sampler: AffineSampler, inverse: boolean) => {
      if (!cached || cached.sampler !== sampler) {
        const forward = transformsOf(sampler);
        cached = { sampler, forward, inverse: invertTransforms(forward, dims + 1) };
      }
      return inverse ? cached.inverse : cached.forward;
    };
    const warp = (t: Sym, inverse: boolean): Sym => {
      const g = this.g;
      const [, ...rest] = t.shape;
      const size = rest.slice(0, -1);
      const channels = rest[rest.length - 1];
      const voxels = size.reduce((a, b) => a * b, 1);
      const n = batch * voxels;
      const id = this.warps++;
      let plan: { sampler: AffineSampler; gather: ReturnType<typeof warpGather> } | null = null;
      const gatherFor = (sampler: AffineSampler) => {
        if (!plan || plan.sampler !== sampler) plan = { sampler, gather: warpGather(transforms(sampler, inverse), batch, size) };
        return plan.gather;
      };
      const flat = g.reshape(t, [n, channels]);
      const samples = Array.from({ length: 2 ** dims }, (_, k) => {
        const index = g.placeholder(`warp_${id}/knot_${k}`, 'int32', [n]);
        this.stepFeeds.push({ sym: index, value: (s) => gatherFor(s).knots[k] });
        return g.op1('GatherV2', [flat, index, g.constant('int32', [], [0])],
          { Tparams: { type: 'float32' }, Tindices: { type: 'int32' }, Taxis: { type: 'int32' }, batch_dims: { int: 0 } });
      });
      const weights = (which: 'w0' | 'w1') => Array.from({ length: dims }, (_, a) => {
        const w = g.placeholder(`warp_${id}/${which}_${a}`, 'float32', [n, 1]);
        this.stepFeeds.push({ sym: w, value: (s) => gatherFor(s)[which][a] });
        return w;
      });
      const w0 = weights('w0');
      const w1 = weights('w1');
      return g.reshape(pyramidCombination(samples, w0, w1, { mul: (a, b) => g.mul(a, b), add: (a, b) => g.add(a, b) }), t.shape);
    };
    return this.in('DenseVNet/AffineAugmentation', () => ({
      output: warp(x, false),
      inverse: (y: Sym) => this.in('DenseVNet/AffineAugmentation_inverse', () => warp(y, true)),
    }));
  }

  shape(x: Sym): number[] {
    return x.shape.slice(1);
  }
}
