/**
 * HighRes3DNet (Li et al. 2017) as NiftyNet 0.6.0 builds it (niftynet/network/highres3dnet{,_small,_large}.py):
 * a conv-bn-acti stem `conv_0`, three levels of `res_repeat` residual blocks `res_<level>_<j>` of two pre-activation
 * 3×3×3 convolutions, dilated 1, 2, 4 by space-to-batch (DilatedTensor), then the network's head. The small variant
 * has a stride-2 stem and a stride-2 deconvolution before the classifier; the large one an extra 3×3×3 layer.
 * NiftyNet's `self.layers` widths are the params here (conv_0_features, res_features, conv_1_features, …).
 */
import { defineNetwork, divisibleBy } from './define';
import { convolutionalLayer, deconvolutionalLayer, elementwiseSum } from './niftynet-layers';
import { ACTIVATION_PARAM, type ParamSchema } from './params';
import { Scope } from './scope';
import type { Activation, CommonParams, LayerOps } from './types';

interface HighResParams extends CommonParams {
  activation_function: Activation;
  conv_0_features: number;
  res_features: number[];
  res_repeat: number;
  conv_1_features: number;
  conv_2_features?: number;
}

const DILATIONS = [1, 2, 4];

/** HighResBlock: (bn → acti → conv) × kernels, then ElementwiseLayer SUM with the block's input. */
function highResBlock<T>(ops: LayerOps<T>, x: T, parent: Scope, name: string, filters: number, acti: Activation): T {
  const scope = parent.unique(name);
  let y = x;
  for (let i = 0; i < 2; i++) {
    const bn = scope.unique(`bn_${i}`).name;
    const act = scope.unique(`${acti}_acti_${i}`).name;
    const conv = scope.unique(`conv_${i}`).name;
    y = ops.conv(ops.activation(ops.batchNorm(y, bn), acti, act), conv, { filters, kernel: 3 });
  }
  return elementwiseSum(ops, y, x, scope);
}

/** Stem and the three dilated residual levels, shared by the three variants. */
function body<T>(ops: LayerOps<T>, x: T, root: Scope, p: HighResParams, stemStride: number): T {
  const acti = p.activation_function;
  let flow = convolutionalLayer(ops, x, root, 'conv_0', { filters: p.conv_0_features, kernel: 3, stride: stemStride, acti });
  DILATIONS.forEach((dilation, level) => {
    if (dilation > 1) flow = ops.spaceToBatch(flow, dilation);
    for (let j = 0; j < p.res_repeat; j++) {
      flow = highResBlock(ops, flow, root, `res_${level + 1}_${j}`, p.res_features[level], acti);
    }
    if (dilation > 1) flow = ops.batchToSpace(flow, dilation);
  });
  return flow;
}

function params(conv1: number, extra: ParamSchema = {}): ParamSchema {
  return {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    activation_function: ACTIVATION_PARAM,
    conv_0_features: { kind: 'int', default: 16, doc: 'features of the first convolution (conv_0)' },
    res_features: { kind: 'ints', default: [16, 32, 64], length: 3, doc: 'features of the residual blocks at dilation 1, 2, 4 (res_1, res_2, res_3)' },
    res_repeat: { kind: 'int', default: 3, doc: 'residual blocks per dilation level' },
    conv_1_features: { kind: 'int', default: conv1, doc: 'features of conv_1' },
    ...extra,
  };
}

interface Variant {
  name: string;
  description: string;
  /** NiftyNet's scope (the class's default name). */
  scope: string;
  params: ParamSchema;
  stemStride: number;
  /** The layers after the residual levels. */
  head: <T>(ops: LayerOps<T>, flow: T, root: Scope, p: HighResParams) => T;
}

function variant(v: Variant) {
  return defineNetwork<HighResParams>({
    name: v.name,
    description: v.description,
    params: v.params,
    referenceSize: () => 8,
    inputRule: divisibleBy(8, v.name),
    forward<T>(ops: LayerOps<T>, x: T, p: HighResParams): T {
      const root = new Scope(v.scope);
      return v.head(ops, body(ops, x, root, p, v.stemStride), root, p);
    },
  });
}

export const highres3dnet = variant({
  name: 'highres3dnet',
  description: 'NiftyNet HighRes3DNet: dilated residual network at full resolution (input divisible by 8)',
  scope: 'HighRes3DNet',
  params: params(80),
  stemStride: 1,
  head(ops, flow, root, p) {
    const head = convolutionalLayer(ops, flow, root, 'conv_1', { filters: p.conv_1_features, kernel: 1, acti: p.activation_function });
    return convolutionalLayer(ops, head, root, 'conv_2', { filters: p.num_classes, kernel: 1 });
  },
});

export const highres3dnetSmall = variant({
  name: 'highres3dnet_small',
  description: 'NiftyNet HighRes3DNetSmall: HighRes3DNet at half resolution (stride-2 stem, deconvolution back)',
  scope: 'HighRes3DNetSmall',
  params: params(80),
  stemStride: 2,
  head(ops, flow, root, p) {
    const acti = p.activation_function;
    const head = convolutionalLayer(ops, flow, root, 'conv_1', { filters: p.conv_1_features, kernel: 3, acti });
    const up = deconvolutionalLayer(ops, head, root, 'deconv', { filters: p.conv_1_features, kernel: 3, stride: 2, acti });
    return convolutionalLayer(ops, up, root, 'conv_2', { filters: p.num_classes, kernel: 1 });
  },
});

export const highres3dnetLarge = variant({
  name: 'highres3dnet_large',
  description: 'NiftyNet HighRes3DNetLarge: HighRes3DNet with an extra 3×3×3 layer before the 1×1 head',
  scope: 'HighRes3DNet',
  params: params(64, { conv_2_features: { kind: 'int', default: 64, doc: 'features of conv_2' } }),
  stemStride: 1,
  head(ops, flow, root, p) {
    const acti = p.activation_function;
    let head = convolutionalLayer(ops, flow, root, 'conv_1', { filters: p.conv_1_features, kernel: 3, acti });
    head = convolutionalLayer(ops, head, root, 'conv_2', { filters: p.conv_2_features!, kernel: 1, acti });
    return convolutionalLayer(ops, head, root, 'conv_3', { filters: p.num_classes, kernel: 1 });
  },
});
