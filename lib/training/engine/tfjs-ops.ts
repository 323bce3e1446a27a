/**
 * LayerOps on TensorFlow.js tensors, with variables the trainer owns (looked up by TF1 name), computing what
 * NiftyNet's layers compute with TensorFlow 1 (tf.nn.convolution, conv_transpose, tf.nn.moments +
 * tf.nn.batch_normalization, assign_moving_average with zero debiasing, tf.image.resize_bilinear, …).
 *
 * Batch norm uses batch statistics in training mode and records the moving-average updates for the trainer to apply
 * after the step. Frozen batch norms (beta and gamma both frozen) normalise with the moving statistics, which then
 * stay fixed (`frozenBatchNorm: 'moving'`, thaw's default), or as NiftyNet does, with batch statistics while their
 * moving averages keep updating (`'batch'`).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { FrozenBatchNorm } from '../../pipeline/plan';
import type { Tf } from '../backend';
import type { Activation, ConvOptions, DeconvOptions, LayerOps, PoolOptions } from '../networks/types';
import { affineWarp, type AffineSampler } from './affine-warp';
import type { NativeKernels } from './native-kernels';

type Tensor = tfTypes.Tensor;
type Variable = tfTypes.Variable;

/** NiftyNet's BNLayer constants. */
export const BN_EPSILON = 1e-5;
export const BN_MOVING_DECAY = 0.9;
/** NiftyNet's ConvolutionalLayer passes its eps (1e-5) to InstanceNormLayer. */
export const INSTANCE_NORM_EPSILON = 1e-5;

export interface ForwardMode {
  training: boolean;
  /** Layers whose trainable variables are all frozen (a batch norm's: its beta and gamma). */
  frozenLayers: ReadonlySet<string>;
  frozenBatchNorm: FrozenBatchNorm;
  /** Random affine transforms for DenseVNet's augmentation while training (absent: no augmentation). */
  affineSampler?: AffineSampler;
}

export class TfjsLayerOps implements LayerOps<Tensor> {
  /** New values of batch-norm state by variable name, kept (tf.keep) for the caller to assign and dispose. */
  readonly bnUpdates = new Map<string, Tensor>();

  constructor(
    private readonly tf: Tf,
    readonly dims: 2 | 3,
    private readonly vars: Map<string, Variable>,
    private readonly mode: ForwardMode,
    /** Native kernels (tfjs-node: ReLU with its one-pass gradient), or null for plain tfjs ops. */
    private readonly kernels: NativeKernels | null = null,
  ) {}

  private v(name: string): Variable {
    const found = this.vars.get(name);
    if (!found) throw new Error(`variable ${name} was not created`);
    return found;
  }

  private spatialAxes(): number[] {
    return this.dims === 2 ? [1, 2] : [1, 2, 3];
  }

  private convPlain(x: Tensor, w: Tensor, stride: number, pad: 'same' | 'valid'): Tensor {
    const tf = this.tf;
    return this.dims === 2
      ? tf.conv2d(x as tfTypes.Tensor4D, w as tfTypes.Tensor4D, stride, pad)
      : tf.conv3d(x as tfTypes.Tensor5D, w as tfTypes.Tensor5D, stride, pad);
  }

  /**
   * Dilated 'SAME' convolution as tf.nn.convolution does it: space-to-batch, plain 'VALID' convolution,
   * batch-to-space (tfjs has no gradient for dilated convolutions; these three ops all have one).
   */
  private convDilated(x: Tensor, w: Tensor, k: number, rate: number): Tensor {
    const tf = this.tf;
    const span = (k - 1) * rate;
    const before = Math.floor(span / 2);
    const axes = this.spatialAxes();
    const paddings: [number, number][] = [];
    const crops: [number, number][] = [];
    for (const a of axes) {
      const padded = x.shape[a] + span;
      const extra = (rate - (padded % rate)) % rate;
      paddings.push([before, span - before + extra]);
      crops.push([0, extra]);
    }
    const block = axes.map(() => rate);
    const y = this.convPlain(tf.spaceToBatchND(x, block, paddings), w, 1, 'valid');
    return tf.batchToSpaceND(y, block, crops);
  }

  conv(x: Tensor, scope: string, o: ConvOptions): Tensor {
    const w = this.v(`${scope}/w`);
    const dilation = o.dilation ?? 1;
    const padding = o.padding ?? 'SAME';
    let y: Tensor;
    if (dilation > 1 && o.kernel > 1) {
      if (padding !== 'SAME' || (o.stride ?? 1) !== 1) throw new Error(`${scope}: dilated convolutions are SAME with stride 1 only`);
      y = this.convDilated(x, w, o.kernel, dilation);
    } else {
      y = this.convPlain(x, w, o.stride ?? 1, padding === 'SAME' ? 'same' : 'valid');
    }
    return o.bias ? y.add(this.v(`${scope}/b`)) : y;
  }

  deconv(x: Tensor, scope: string, o: DeconvOptions): Tensor {
    const tf = this.tf;
    const w = this.v(`${scope}/w`);
    const stride = o.stride ?? 1;
    const pad = (o.padding ?? 'SAME') === 'SAME' ? 'same' : 'valid';
    const spatial = x.shape.slice(1, -1).map((s) => (pad === 'valid' ? s * stride + Math.max(o.kernel - stride, 0) : s * stride));
    const outShape = [x.shape[0], ...spatial, o.filters];
    let y: Tensor;
    if (this.dims === 2) {
      y = tf.conv2dTranspose(x as tfTypes.Tensor4D, w as tfTypes.Tensor4D, outShape as [number, number, number, number], stride, pad);
    } else {
      y = this.deconv3d(x, w, outShape, stride, pad);
    }
    return o.bias ? y.add(this.v(`${scope}/b`)) : y;
  }

  /** conv3dTranspose with its gradient (tfjs registers none): dx is the forward convolution, dw its filter gradient. */
  private deconv3d(x: Tensor, w: Tensor, outShape: number[], stride: number, pad: 'same' | 'valid'): Tensor {
    const tf = this.tf;
    const strides: [number, number, number] = [stride, stride, stride];
    const op = tf.customGrad((input, filter, save) => {
      (save as (ts: Tensor[]) => void)([input as Tensor, filter as Tensor]);
      const value = tf.conv3dTranspose(input as tfTypes.Tensor5D, filter as tfTypes.Tensor5D,
        outShape as [number, number, number, number, number], strides, pad);
      return {
        value,
        gradFunc: (dy, saved) => {
          const [xs, ws] = saved as Tensor[];
          const dx = tf.conv3d(dy as tfTypes.Tensor5D, ws as tfTypes.Tensor5D, strides, pad);
          const dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x: dy as Tensor, dy: xs },
            { strides, pad, filterShape: ws.shape }) as Tensor;
          return [dx, dw];
        },
      };
    }) as (a: Tensor, b: Tensor) => Tensor;
    return op(x, w);
  }

  batchNorm(x: Tensor, scope: string): Tensor {
    const tf = this.tf;
    const beta = this.v(`${scope}/beta`);
    const gamma = this.v(`${scope}/gamma`);
    const movingMean = this.v(`${scope}/moving_mean`);
    const movingVar = this.v(`${scope}/moving_variance`);
    const frozen = this.mode.frozenLayers.has(scope);
    if (!this.mode.training || (frozen && this.mode.frozenBatchNorm === 'moving')) {
      return this.normalise(x, movingMean, movingVar, beta, gamma, BN_EPSILON);
    }
    // tf.nn.moments + tf.nn.batch_normalization as NiftyNet's graph computes them: bit-identical on the same
    // libtensorflow, where the fused kernel (FusedBatchNormV3) differs by up to 1e-3 relative through a deep net.
    const { mean, variance } = tf.moments(x, [0, ...this.spatialAxes()]);
    this.recordMovingUpdates(scope, mean, variance);
    return this.normalise(x, mean, variance, beta, gamma, BN_EPSILON);
  }

  /**
   * TF's assign_moving_average(var, value, 0.9) with zero debiasing, as NiftyNet's BNLayer runs it every step:
   * biased -= (biased - value)·(1 - 0.9); local_step += 1; var = biased / (1 - 0.9^local_step), in float32.
   */
  private recordMovingUpdates(scope: string, mean: Tensor, variance: Tensor): void {
    const tf = this.tf;
    const decay = tf.scalar(1 - BN_MOVING_DECAY);
    const one = tf.scalar(1);
    for (const [name, value] of [['moving_mean', mean], ['moving_variance', variance]] as const) {
      const debias = `${scope}/${scope}/${name}`;
      const biased = this.v(`${debias}/biased`);
      const localStep = this.v(`${debias}/local_step`);
      const newBiased = biased.sub(biased.sub(value).mul(decay));
      const newStep = localStep.add(one);
      const biasFactor = one.sub(tf.pow(one.sub(decay), newStep));
      this.bnUpdates.set(`${debias}/biased`, tf.keep(newBiased));
      this.bnUpdates.set(`${debias}/local_step`, tf.keep(newStep));
      this.bnUpdates.set(`${scope}/${name}`, tf.keep(newBiased.div(biasFactor)));
    }
  }

  /** tf.nn.batch_normalization: inv = rsqrt(variance + ε)·γ; x·inv + (β − mean·inv). */
  private normalise(x: Tensor, mean: Tensor, variance: Tensor, beta: Tensor, gamma: Tensor, epsilon: number): Tensor {
    const tf = this.tf;
    const inv = tf.rsqrt(variance.add(tf.scalar(epsilon))).mul(gamma);
    return x.mul(inv).add(beta.sub(mean.mul(inv)));
  }

  instanceNorm(x: Tensor, scope: string): Tensor {
    const { mean, variance } = this.tf.moments(x, this.spatialAxes(), true);
    return this.normalise(x, mean, variance, this.v(`${scope}/InstanceNorm/beta`), this.v(`${scope}/InstanceNorm/gamma`), INSTANCE_NORM_EPSILON);
  }

  activation(x: Tensor, func: Activation, scope: string): Tensor {
    const tf = this.tf;
    switch (func) {
      case 'relu':
        return this.kernels ? this.kernels.relu(x) : tf.relu(x);
      case 'relu6':
        return tf.relu6(x);
      case 'elu':
        return tf.elu(x);
      case 'softplus':
        return tf.softplus(x);
      case 'softsign':
        return x.div(tf.abs(x).add(tf.scalar(1)));
      case 'sigmoid':
        return tf.sigmoid(x);
      case 'tanh':
        return tf.tanh(x);
      case 'prelu':
        // NiftyNet's prelu: relu(x) + alpha · (x − |x|) · 0.5
        return tf.relu(x).add(this.v(`${scope}/alpha`).mul(x.sub(tf.abs(x))).mul(tf.scalar(0.5)));
      case 'selu': {
        const alpha = 1.6732632423543772;
        const scale = 1.0507009873554805;
        return tf.where(x.greaterEqual(tf.scalar(0)), x, tf.elu(x).mul(tf.scalar(alpha))).mul(tf.scalar(scale));
      }
      case 'leakyrelu':
        // NiftyNet's leaky_relu: (0.5 + 0.01)·x + (0.5 − 0.01)·|x|
        return x.mul(tf.scalar(0.5 + 0.01)).add(tf.abs(x).mul(tf.scalar(0.5 - 0.01)));
    }
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.tf.add(a, b);
  }

  concat(xs: Tensor[]): Tensor {
    return xs.length === 1 ? xs[0] : this.tf.concat(xs, -1);
  }

  padChannels(x: Tensor, before: number, after: number): Tensor {
    if (before === 0 && after === 0) return x;
    const pads = x.shape.map((_, i): [number, number] => (i === x.rank - 1 ? [before, after] : [0, 0]));
    return this.tf.pad(x, pads);
  }

  crop(x: Tensor, border: number): Tensor {
    if (border === 0) return x;
    const begin = x.shape.map((_, i) => (i === 0 || i === x.rank - 1 ? 0 : border));
    const size = x.shape.map((d, i) => (i === 0 || i === x.rank - 1 ? -1 : d - 2 * border));
    return this.tf.slice(x, begin, size);
  }

  pool(x: Tensor, o: PoolOptions): Tensor {
    const tf = this.tf;
    const pad = (o.padding ?? 'SAME') === 'SAME' ? 'same' : 'valid';
    if (this.dims === 2) {
      const x4 = x as tfTypes.Tensor4D;
      return o.func === 'MAX' ? tf.maxPool(x4, o.kernel, o.stride, pad) : tf.avgPool(x4, o.kernel, o.stride, pad);
    }
    const x5 = x as tfTypes.Tensor5D;
    return o.func === 'MAX' ? tf.maxPool3d(x5, o.kernel, o.stride, pad) : tf.avgPool3d(x5, o.kernel, o.stride, pad);
  }

  /**
   * NiftyNet's LinearResizeLayer: resize_bilinear (align_corners false, TF1 pixel centres) in 2-D; in 3-D the same
   * on (y, z) per x slice, then on (y, x) per z slice, through NiftyNet's reshapes and transposes.
   */
  linearResize(x: Tensor, size: number[]): Tensor {
    const tf = this.tf;
    const bilinear = (t: Tensor, hw: number[]) => tf.image.resizeBilinear(t as tfTypes.Tensor4D, [hw[0], hw[1]], false, false);
    if (this.dims === 2) return bilinear(x, size);
    const [b, xs, ys, zs, c] = x.shape;
    const [xn, yn, zn] = size;
    if (xs === xn && ys === yn && zs === zn) return x;
    const byX = bilinear(x.reshape([-1, ys, zs, c]), [yn, zn]).reshape([b, xs, yn, zn, c]);
    const reoriented = tf.transpose(byX, [0, 3, 2, 1, 4]);
    const byZ = bilinear(reoriented.reshape([-1, yn, xs, c]), [yn, xn]).reshape([b, zn, yn, xn, c]);
    return tf.transpose(byZ, [0, 3, 2, 1, 4]);
  }

  spaceToBatch(x: Tensor, factor: number): Tensor {
    const axes = this.spatialAxes();
    return this.tf.spaceToBatchND(x, axes.map(() => factor), axes.map((): [number, number] => [0, 0]));
  }

  batchToSpace(x: Tensor, factor: number): Tensor {
    const axes = this.spatialAxes();
    return this.tf.batchToSpaceND(x, axes.map(() => factor), axes.map((): [number, number] => [0, 0]));
  }

  tileChannels(x: Tensor, times: number): Tensor {
    return this.tf.tile(x, x.shape.map((_, i) => (i === x.rank - 1 ? times : 1)));
  }

  constantVariable(name: string): Tensor {
    return this.v(name);
  }

  log(x: Tensor): Tensor {
    return this.tf.log(x);
  }

  affineAugmentation(x: Tensor, scale: number): { output: Tensor; inverse: (y: Tensor) => Tensor } | null {
    if (!this.mode.training || !this.mode.affineSampler) return null;
    return affineWarp(this.tf, x, this.mode.affineSampler(x.shape[0], this.dims, scale));
  }

  shape(x: Tensor): number[] {
    return x.shape.slice(1);
  }
}
