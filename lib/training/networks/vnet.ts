/**
 * NiftyNet's V-Net (Milletari et al. 2016; niftynet/network/vnet.py, scope `VNet`): residual blocks of 5×5×5
 * convolutions (no normalisation) with an activation between them, 2×2×2 strided convolutions down and
 * deconvolutions up, skips concatenated. The input is tiled to n_features[0] channels for the first residual sum,
 * and the output goes through the activation too, as in NiftyNet. Input divisible by 8 (16 for four levels).
 */
import { defineNetwork, divisibleBy } from './define';
import { activationLayer, elementwiseConcat, elementwiseSum } from './niftynet-layers';
import { ACTIVATION_PARAM } from './params';
import { Scope } from './scope';
import type { Activation, CommonParams, LayerOps } from './types';

interface VNetParams extends CommonParams {
  activation_function: Activation;
  n_features: number[];
}

type BlockFunc = 'DOWNSAMPLE' | 'UPSAMPLE' | 'SAME';

/** VNetBlock: n_conv 5×5×5 convolutions (acti between), residual sum with the bypass, then down/up/1×1 and acti. */
function vnetBlock<T>(ops: LayerOps<T>, main: T, bypass: T, parent: Scope, name: string, func: BlockFunc, nConv: number,
  features: number, outputs: number, acti: Activation): { res: T; out: T } {
  const scope = parent.unique(name);
  let y = main;
  for (let i = 0; i < nConv; i++) {
    y = ops.conv(y, scope.unique(`conv_${i}`).name, { filters: features, kernel: 5 });
    if (i < nConv - 1) y = activationLayer(ops, y, scope, acti);
  }
  const res = elementwiseSum(ops, y, bypass, scope);
  if (func === 'DOWNSAMPLE') {
    y = ops.conv(res, scope.unique('downsample').name, { filters: outputs, kernel: 2, stride: 2, bias: true });
  } else if (func === 'UPSAMPLE') {
    y = ops.deconv(res, scope.unique('upsample').name, { filters: outputs, kernel: 2, stride: 2, bias: true });
  } else {
    y = ops.conv(res, scope.unique('conv_1x1x1').name, { filters: outputs, kernel: 1, bias: true });
  }
  return { res, out: activationLayer(ops, y, scope, acti) };
}

export const vnet = defineNetwork<VNetParams>({
  name: 'vnet',
  description: 'NiftyNet V-Net: residual 5×5×5 blocks, strided conv down, deconv up; input divisible by 8',
  params: {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    activation_function: ACTIVATION_PARAM,
    n_features: { kind: 'ints', default: [16, 32, 64, 128, 256], length: 5, doc: 'features per level (NiftyNet VNet.n_features)' },
  },
  referenceSize: () => 16,
  inputRule: divisibleBy(8, 'vnet'),
  forward<T>(ops: LayerOps<T>, x: T, p: VNetParams): T {
    const root = new Scope('VNet');
    const f = p.n_features;
    const acti = p.activation_function;
    const block = (main: T, bypass: T, name: string, func: BlockFunc, nConv: number, features: number, outputs: number) =>
      vnetBlock(ops, main, bypass, root, name, func, nConv, features, outputs, acti);
    const l1 = block(x, ops.tileChannels(x, f[0]), 'L1', 'DOWNSAMPLE', 1, f[0], f[1]);
    const l2 = block(l1.out, l1.out, 'L2', 'DOWNSAMPLE', 2, f[1], f[2]);
    const l3 = block(l2.out, l2.out, 'L3', 'DOWNSAMPLE', 3, f[2], f[3]);
    const l4 = block(l3.out, l3.out, 'L4', 'DOWNSAMPLE', 3, f[3], f[4]);
    const v = block(l4.out, l4.out, 'V_', 'UPSAMPLE', 3, f[4], f[4]);
    const r4 = block(elementwiseConcat(ops, v.out, l4.res, root), v.out, 'R4', 'UPSAMPLE', 3, f[4], f[3]);
    const r3 = block(elementwiseConcat(ops, r4.out, l3.res, root), r4.out, 'R3', 'UPSAMPLE', 3, f[3], f[2]);
    const r2 = block(elementwiseConcat(ops, r3.out, l2.res, root), r3.out, 'R2', 'UPSAMPLE', 2, f[2], f[1]);
    return block(elementwiseConcat(ops, r2.out, l1.res, root), r2.out, 'R1', 'SAME', 1, f[1], p.num_classes).out;
  },
});
