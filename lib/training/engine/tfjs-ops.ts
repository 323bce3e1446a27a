/**
 * LayerOps on TensorFlow.js tensors, with variables the trainer owns (looked up by TF1 name). Batch norm uses batch
 * statistics in training mode and records the moving-average updates for the trainer to apply after the step;
 * layers in `frozenLayers` (and inference) use the moving statistics, which then stay fixed.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from '../backend';
import type { ConvOptions, LayerOps } from '../networks/types';
import type { NativeKernels } from './native-kernels';

type Tensor = tfTypes.Tensor;
type Variable = tfTypes.Variable;

/** NiftyNet's batch-norm constants. */
export const BN_EPSILON = 1e-5;
export const BN_MOVING_DECAY = 0.9;

export interface ForwardMode {
  training: boolean;
  frozenLayers: ReadonlySet<string>;
}

export class TfjsLayerOps implements LayerOps<Tensor> {
  /** New moving statistics by variable name, kept (tf.keep) for the caller to assign and dispose. */
  readonly bnUpdates = new Map<string, Tensor>();

  constructor(
    private readonly tf: Tf,
    readonly dims: 2 | 3,
    private readonly vars: Map<string, Variable>,
    private readonly mode: ForwardMode,
    /** Fused native kernels (tfjs-node), or null for plain tfjs ops. */
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

  private convSame(x: Tensor, w: Tensor, stride: number): Tensor {
    const tf = this.tf;
    return this.dims === 2
      ? tf.conv2d(x as tfTypes.Tensor4D, w as tfTypes.Tensor4D, stride, 'same')
      : tf.conv3d(x as tfTypes.Tensor5D, w as tfTypes.Tensor5D, stride, 'same');
  }

  /**
   * Dilated 'same' convolution as TensorFlow's atrous_conv does it: space-to-batch, plain 'valid' convolution,
   * batch-to-space. (tfjs has no gradient for dilated conv2d/conv3d; these three ops all have one.)
   */
  private convDilated(x: Tensor, w: Tensor, k: number, rate: number): Tensor {
    const tf = this.tf;
    const span = (k - 1) * rate; // effective kernel extent minus one
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
    const spaced = tf.spaceToBatchND(x, block, paddings);
    const y = this.dims === 2
      ? tf.conv2d(spaced as tfTypes.Tensor4D, w as tfTypes.Tensor4D, 1, 'valid')
      : tf.conv3d(spaced as tfTypes.Tensor5D, w as tfTypes.Tensor5D, 1, 'valid');
    return tf.batchToSpaceND(y, block, crops);
  }

  conv(x: Tensor, layer: string, o: ConvOptions): Tensor {
    const w = this.v(`${layer}/conv_/w`);
    const k = o.kernel ?? 3;
    const dilation = o.dilation ?? 1;
    let y = dilation > 1 && k > 1 ? this.convDilated(x, w, k, dilation) : this.convSame(x, w, o.stride ?? 1);
    if (o.bias) y = y.add(this.v(`${layer}/conv_/b`));
    return y;
  }

  batchNorm(x: Tensor, layer: string): Tensor {
    const tf = this.tf;
    const scope = `${layer}/bn_`;
    const beta = this.v(`${scope}/beta`);
    const gamma = this.v(`${scope}/gamma`);
    const movingMean = this.v(`${scope}/moving_mean`);
    const movingVar = this.v(`${scope}/moving_variance`);
    if (!this.mode.training || this.mode.frozenLayers.has(layer)) {
      return this.normalise(x, movingMean, movingVar, beta, gamma);
    }
    if (this.kernels) {
      const { y, mean, variance } = this.kernels.batchNormTraining(x, gamma, beta, BN_EPSILON);
      this.recordMovingUpdates(scope, mean, variance);
      tf.dispose([mean, variance]);
      return y;
    }
    const { mean, variance } = tf.moments(x, [0, ...this.spatialAxes()]);
    this.recordMovingUpdates(scope, mean, variance);
    return this.normalise(x, mean, variance, beta, gamma);
  }

  /** moving = moving · decay + batch · (1 - decay), kept for the trainer to assign after the step. */
  private recordMovingUpdates(scope: string, mean: Tensor, variance: Tensor): void {
    const tf = this.tf;
    const decay = tf.scalar(BN_MOVING_DECAY);
    const keepFraction = tf.scalar(1 - BN_MOVING_DECAY);
    for (const [name, batch] of [['moving_mean', mean], ['moving_variance', variance]] as const) {
      const moving = this.v(`${scope}/${name}`);
      this.bnUpdates.set(`${scope}/${name}`, tf.keep(moving.mul(decay).add(batch.mul(keepFraction))));
    }
  }

  /** (x - mean) / sqrt(variance + ε) · γ + β with plain ops (tf.batchNorm's gradient is limited to rank 4). */
  private normalise(x: Tensor, mean: Tensor, variance: Tensor, beta: Tensor, gamma: Tensor): Tensor {
    const tf = this.tf;
    const scale = tf.rsqrt(variance.add(tf.scalar(BN_EPSILON))).mul(gamma);
    return x.sub(mean).mul(scale).add(beta);
  }

  relu(x: Tensor): Tensor {
    return this.kernels ? this.kernels.relu(x) : this.tf.relu(x);
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.tf.add(a, b);
  }

  concat(xs: Tensor[]): Tensor {
    return xs.length === 1 ? xs[0] : this.tf.concat(xs, -1);
  }

  padChannels(x: Tensor, channels: number): Tensor {
    const missing = channels - this.channels(x);
    if (missing <= 0) return x;
    const pads = x.shape.map((_, i): [number, number] => (i === x.rank - 1 ? [0, missing] : [0, 0]));
    return this.tf.pad(x, pads);
  }

  maxPool(x: Tensor, factor: number): Tensor {
    const tf = this.tf;
    return this.dims === 2
      ? tf.maxPool(x as tfTypes.Tensor4D, factor, factor, 'valid')
      : tf.maxPool3d(x as tfTypes.Tensor5D, factor, factor, 'valid');
  }

  /** Nearest neighbour: repeat every spatial axis `factor` times by gathering (tile has no gradient beyond rank 4). */
  upsample(x: Tensor, factor: number): Tensor {
    if (factor === 1) return x;
    let y = x;
    for (const axis of this.spatialAxes()) {
      const indices = Array.from({ length: y.shape[axis] * factor }, (_, i) => Math.floor(i / factor));
      y = this.tf.gather(y, this.tf.tensor1d(indices, 'int32'), axis);
    }
    return y;
  }

  channels(x: Tensor): number {
    return x.shape[x.rank - 1];
  }
}
