/**
 * What a network is to thaw, independent of any engine: a NetworkDefinition lists its variables for given params
 * (pure shape arithmetic, no TensorFlow.js) and describes its forward pass against LayerOps, a small vocabulary of
 * NiftyNet's primitive layers over opaque tensors. The tfjs engine implements LayerOps with real tensors; a shape
 * tracer implements it with shapes to list the variables, so both come from one description.
 *
 * Layout is channels-last (NHWC / NDHWC). Every op that creates variables takes the TF1 variable scope they live in,
 * exactly as NiftyNet 0.6.0 names it (`HighRes3DNet/conv_0_bn_relu/conv_`); the composite layers that build those
 * names are in niftynet-layers.ts.
 */
import type { VariableSpec } from './variable-spec';

/** niftynet.layer.activation.SUPPORTED_OP, without dropout (thaw trains with keep_prob 1, NiftyNet's default). */
export const ACTIVATIONS = ['relu', 'relu6', 'elu', 'softplus', 'softsign', 'sigmoid', 'tanh', 'prelu', 'selu', 'leakyrelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export type Padding = 'SAME' | 'VALID';

export interface ConvOptions {
  filters: number;
  /** Kernel edge on every spatial axis. */
  kernel: number;
  stride?: number;
  dilation?: number;
  padding?: Padding;
  /** Add `${scope}/b` (NiftyNet's ConvLayer default: no bias). */
  bias?: boolean;
}

export interface DeconvOptions {
  filters: number;
  kernel: number;
  stride?: number;
  padding?: Padding;
  bias?: boolean;
}

export interface PoolOptions {
  func: 'MAX' | 'AVG';
  kernel: number;
  stride: number;
  padding?: Padding;
}

export interface LayerOps<T> {
  /** Spatial dimensions of the input (2 or 3). */
  readonly dims: 2 | 3;
  /** NiftyNet's ConvLayer: tf.nn.convolution, variables `${scope}/w` [...kernel, in, filters] (and `${scope}/b`). */
  conv(x: T, scope: string, options: ConvOptions): T;
  /** NiftyNet's DeconvLayer: conv_transpose, variables `${scope}/w` [...kernel, filters, in] (and `${scope}/b`). */
  deconv(x: T, scope: string, options: DeconvOptions): T;
  /**
   * NiftyNet's BNLayer: variables `${scope}/{beta,gamma,moving_mean,moving_variance}` and the zero-debias state of
   * TF's assign_moving_average (`${scope}/${scope}/moving_mean/{biased,local_step}`, same for moving_variance).
   * Batch statistics while training, moving statistics in inference (and, by default, in frozen layers).
   */
  batchNorm(x: T, scope: string): T;
  /** NiftyNet's InstanceNormLayer (tf.contrib.layers.instance_norm): `${scope}/InstanceNorm/{beta,gamma}`. */
  instanceNorm(x: T, scope: string): T;
  /** NiftyNet's ActiLayer; prelu has the variable `${scope}/alpha`. */
  activation(x: T, func: Activation, scope: string): T;
  add(a: T, b: T): T;
  /** Concatenate along channels. */
  concat(xs: T[]): T;
  /** Zero channels before and after (NiftyNet's ElementwiseLayer SUM between widths). */
  padChannels(x: T, before: number, after: number): T;
  /** NiftyNet's CropLayer: `border` voxels off both ends of every spatial axis. */
  crop(x: T, border: number): T;
  /** NiftyNet's DownSampleLayer (tf.nn.pool). */
  pool(x: T, options: PoolOptions): T;
  /** NiftyNet's LinearResizeLayer (tf.image.resize_bilinear, per pair of axes in 3-D) to a spatial size. */
  linearResize(x: T, size: number[]): T;
  /** tf.space_to_batch_nd / batch_to_space_nd with no padding (NiftyNet's DilatedTensor). */
  spaceToBatch(x: T, factor: number): T;
  batchToSpace(x: T, factor: number): T;
  /** tf.tile along channels (VNet's input). */
  tileChannels(x: T, times: number): T;
  /** A trainable tensor variable `name` of `shape`, initialised to `init` (DenseVNet's spatial prior). */
  constantVariable(name: string, shape: number[], init: number): T;
  /** log(x) elementwise. */
  log(x: T): T;
  /**
   * DenseVNet's AffineAugmentationLayer while training: a random affine warp per batch item with linear resampling
   * and zero boundary; returns the warped input and the inverse warp for the output. Null when not training.
   */
  affineAugmentation(x: T, scale: number): { output: T; inverse: (y: T) => T } | null;
  /** [...spatial, channels] of x. */
  shape(x: T): number[];
}

/** Network parameters every network understands, besides its own. */
export interface CommonParams {
  dims: 2 | 3;
  in_channels: number;
  num_classes: number;
}

export interface NetworkDefinition {
  name: string;
  description: string;
  /** Variables for these params (pure shape arithmetic: selection and preflight call it without an engine). */
  variables(params: Record<string, unknown>): VariableSpec[];
  /** The resolved params (defaults applied, validated); throws a UserError naming the bad field. */
  resolveParams(params: Record<string, unknown>): CommonParams & Record<string, unknown>;
  /** Why this spatial input size does not fit the network (NiftyNet's own constraints), or null when it does. */
  inputSizeProblem(params: Record<string, unknown>, size: number[]): string | null;
  /** Spatial size of the output for an input of `size` (smaller than the input for cropping networks). */
  outputSize(params: Record<string, unknown>, size: number[]): number[];
  /** The forward pass: input [batch, ...spatial, in_channels] → logits [batch, ...outputSize, num_classes]. */
  forward<T>(ops: LayerOps<T>, x: T, params: Record<string, unknown>): T;
}
