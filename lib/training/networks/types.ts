/**
 * What a network is to thaw, independent of any engine: a NetworkDefinition lists its variables for given params
 * (pure shape arithmetic, no TensorFlow.js) and describes its forward pass against LayerOps, a small set of layer
 * operations over opaque tensors. The tfjs engine implements LayerOps with real tensors; a shape tracer implements
 * it with channel counts to list the variables, so both come from one description. A graph-mode engine can add a
 * third implementation without touching the networks.
 *
 * Layout is channels-last (NHWC / NDHWC). Variable names follow NiftyNet's TF1 scopes:
 * `<Net>/<layer>/conv_/w`, `<layer>/conv_/b`, `<layer>/bn_/{beta,gamma,moving_mean,moving_variance}`.
 */
import type { VariableSpec } from './variable-spec';

export interface ConvOptions {
  filters: number;
  /** Cubic/square kernel edge (default 3). */
  kernel?: number;
  stride?: number;
  dilation?: number;
  /** Add `conv_/b` (default false: NiftyNet convolutions before batch norm have no bias). */
  bias?: boolean;
}

export interface LayerOps<T> {
  /** Spatial dimensions of the input (2 or 3). */
  readonly dims: 2 | 3;
  /** 'same'-padded convolution with variables `${layer}/conv_/w` (and `/b`). */
  conv(x: T, layer: string, options: ConvOptions): T;
  /**
   * Batch norm with variables `${layer}/bn_/…`: batch statistics while training, moving statistics in inference and
   * in frozen layers (whose statistics then stay fixed).
   */
  batchNorm(x: T, layer: string): T;
  relu(x: T): T;
  add(a: T, b: T): T;
  /** Concatenate along channels. */
  concat(xs: T[]): T;
  /** Zero-pad channels up to `channels` (residual connections between widths). */
  padChannels(x: T, channels: number): T;
  maxPool(x: T, factor: number): T;
  /** Nearest-neighbour upsampling by an integer factor on every spatial axis. */
  upsample(x: T, factor: number): T;
  channels(x: T): number;
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
  /** Every spatial input size must be a multiple of this (pooling depth). */
  spatialMultiple(params: Record<string, unknown>): number;
  /** The forward pass: input [batch, ...spatial, in_channels] → logits [batch, ...spatial, num_classes]. */
  forward<T>(ops: LayerOps<T>, x: T, params: Record<string, unknown>): T;
}
