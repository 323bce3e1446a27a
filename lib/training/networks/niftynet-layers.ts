/**
 * NiftyNet's composite layers over LayerOps, named as NiftyNet names them (niftynet/layer/convolution.py,
 * deconvolution.py, elementwise.py, activation.py): the networks are written with these, so their variables get
 * NiftyNet's scopes and their maths NiftyNet's order of operations.
 */
import type { Scope } from './scope';
import type { Activation, LayerOps, Padding } from './types';

export type Normalization = 'batch' | 'instance' | null;

export interface ConvolutionalLayerOptions {
  filters: number;
  kernel?: number;
  stride?: number;
  dilation?: number;
  padding?: Padding;
  bias?: boolean;
  /** NiftyNet's feature_normalization (default 'batch'). */
  normalization?: Normalization;
  /** NiftyNet's acti_func (default none). */
  acti?: Activation | null;
  /** Normalise and activate before the convolution instead of after. */
  preactivation?: boolean;
}

const NORMALIZATION_SUFFIX: Record<'batch' | 'instance', string> = { batch: '_bn', instance: '_in' };

/** normalisation → activation, in the layer's scope (the part ConvolutionalLayer and DeconvolutionalLayer share). */
function normaliseAndActivate<T>(ops: LayerOps<T>, x: T, scope: Scope, normalization: Normalization, acti: Activation | null): T {
  let y = x;
  if (normalization === 'batch') y = ops.batchNorm(y, scope.unique('bn_').name);
  else if (normalization === 'instance') y = ops.instanceNorm(y, scope.unique('in_').name);
  if (acti) y = ops.activation(y, acti, scope.unique(`${acti}_acti_`).name);
  return y;
}

/**
 * ConvolutionalLayer: conv → normalisation → activation under one scope named `${name}_bn_${acti}` (`conv_0_bn_relu`,
 * `32_in_prelu`, `conv_2_bn`), with children `conv_`, `bn_` / `in_`, `${acti}_acti_`.
 */
export function convolutionalLayer<T>(ops: LayerOps<T>, x: T, parent: Scope, name: string, o: ConvolutionalLayerOptions): T {
  const normalization = o.normalization === undefined ? 'batch' : o.normalization;
  const acti = o.acti ?? null;
  const layerName = name + (normalization ? NORMALIZATION_SUFFIX[normalization] : '') + (acti ? `_${acti}` : '');
  const scope = parent.unique(layerName);
  // NiftyNet constructs conv_ before the normalisation and activation layers, whatever the order they run in.
  const convScope = scope.unique('conv_').name;
  const conv = (t: T) => ops.conv(t, convScope, {
    filters: o.filters, kernel: o.kernel ?? 3, stride: o.stride ?? 1, dilation: o.dilation ?? 1,
    padding: o.padding ?? 'SAME', bias: o.bias ?? false,
  });
  if (o.preactivation) return conv(normaliseAndActivate(ops, x, scope, normalization, acti));
  return normaliseAndActivate(ops, conv(x), scope, normalization, acti);
}

export interface DeconvolutionalLayerOptions {
  filters: number;
  kernel?: number;
  stride?: number;
  padding?: Padding;
  bias?: boolean;
  normalization?: Normalization;
  acti?: Activation | null;
}

/** DeconvolutionalLayer: deconv → normalisation → activation under `${name}_bn_${acti}` (`deconv_bn_relu`, `up_2x2_bn`). */
export function deconvolutionalLayer<T>(ops: LayerOps<T>, x: T, parent: Scope, name: string, o: DeconvolutionalLayerOptions): T {
  const normalization = o.normalization === undefined ? 'batch' : o.normalization;
  const acti = o.acti ?? null;
  const layerName = name + (normalization ? NORMALIZATION_SUFFIX[normalization] : '') + (acti ? `_${acti}` : '');
  const scope = parent.unique(layerName);
  const y = ops.deconv(x, scope.unique('deconv_').name, {
    filters: o.filters, kernel: o.kernel ?? 3, stride: o.stride ?? 1, padding: o.padding ?? 'SAME', bias: o.bias ?? false,
  });
  return normaliseAndActivate(ops, y, scope, normalization, acti);
}

/** A bare ActiLayer (`${func}_${name}`, e.g. VNet's `prelu_activation`). */
export function activationLayer<T>(ops: LayerOps<T>, x: T, parent: Scope, func: Activation, name = 'activation'): T {
  return ops.activation(x, func, parent.unique(`${func}_${name}`).name);
}

/**
 * ElementwiseLayer('SUM') (scope `residual_sum`): a wider bypass is projected by a 1×1 convolution (`proj`), a
 * narrower one zero-padded on both sides of the channel axis (floor of half the difference before).
 */
export function elementwiseSum<T>(ops: LayerOps<T>, paramFlow: T, bypassFlow: T, parent: Scope): T {
  const scope = parent.unique('residual_sum');
  const nParam = ops.shape(paramFlow).at(-1)!;
  const nBypass = ops.shape(bypassFlow).at(-1)!;
  let bypass = bypassFlow;
  if (nParam > nBypass) {
    const before = Math.floor((nParam - nBypass) / 2);
    bypass = ops.padChannels(bypass, before, nParam - nBypass - before);
  } else if (nParam < nBypass) {
    bypass = ops.conv(bypass, scope.unique('proj').name, { filters: nParam, kernel: 1 });
  }
  return ops.add(paramFlow, bypass);
}

/** ElementwiseLayer('CONCAT'): channels of a, then b (its scope holds no variables but takes its name). */
export function elementwiseConcat<T>(ops: LayerOps<T>, a: T, b: T, parent: Scope): T {
  parent.unique('residual_concat');
  return ops.concat([a, b]);
}
