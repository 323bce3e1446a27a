/**
 * NiftyNet's 3-D U-Net (Çiçek et al. 2016; niftynet/network/unet.py, class UNet3D, scope `UNet`): three down blocks
 * of two conv-bn-acti layers and 2×2×2 max pooling, an up block with a 2×2×2 deconvolution at each level, skips
 * concatenated, a final block ending in a 1×1×1 conv-bn-acti, then 44 voxels cropped off every side (SAME padding
 * throughout, so the output is the input minus 88). Input sizes divisible by 8 and at least 89.
 */
import { defineNetwork } from './define';
import { convolutionalLayer, deconvolutionalLayer, elementwiseConcat } from './niftynet-layers';
import { ACTIVATION_PARAM } from './params';
import { Scope } from './scope';
import type { Activation, CommonParams, LayerOps } from './types';

interface UNetParams extends CommonParams {
  activation_function: Activation;
  n_features: number[];
}

type BlockFunc = 'DOWNSAMPLE' | 'UPSAMPLE' | 'NONE';

/** UNetBlock: conv-bn-acti per (kernel, features), then max pooling, a deconvolution or nothing; also the pre-op branch. */
function unetBlock<T>(ops: LayerOps<T>, x: T, parent: Scope, name: string, func: BlockFunc, features: number[],
  kernels: number[], acti: Activation): { output: T; branch: T } {
  const scope = parent.unique(name);
  let y = x;
  features.forEach((f, i) => {
    y = convolutionalLayer(ops, y, scope, String(f), { filters: f, kernel: kernels[i], acti });
  });
  const branch = y;
  if (func === 'DOWNSAMPLE') {
    scope.unique('max_down_2x2');
    y = ops.pool(y, { func: 'MAX', kernel: 2, stride: 2 });
  } else if (func === 'UPSAMPLE') {
    y = deconvolutionalLayer(ops, y, scope, 'up_2x2', { filters: features.at(-1)!, kernel: 2, stride: 2 });
  }
  return { output: y, branch };
}

export const unet = defineNetwork<UNetParams>({
  name: 'unet',
  description: 'NiftyNet 3-D U-Net (UNet3D): output cropped by 44 voxels a side; input divisible by 8 and ≥ 89',
  params: {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    activation_function: ACTIVATION_PARAM,
    n_features: { kind: 'ints', default: [32, 64, 128, 256, 512], length: 5, doc: 'features per level (NiftyNet UNet3D.n_features)' },
  },
  referenceSize: () => 96,
  inputRule: (_p, size) =>
    size.every((s) => s % 8 === 0 && s >= 89) ? null : `unet needs spatial sizes divisible by 8 and at least 89 (96, 104, …), got [${size.join(', ')}]`,
  forward<T>(ops: LayerOps<T>, x: T, p: UNetParams): T {
    const root = new Scope('UNet');
    const f = p.n_features;
    const acti = p.activation_function;
    const block = (input: T, name: string, func: BlockFunc, features: number[], kernels = [3, 3]) =>
      unetBlock(ops, input, root, name, func, features, kernels, acti);
    const l1 = block(x, 'L1', 'DOWNSAMPLE', [f[0], f[1]]);
    const l2 = block(l1.output, 'L2', 'DOWNSAMPLE', [f[1], f[2]]);
    const l3 = block(l2.output, 'L3', 'DOWNSAMPLE', [f[2], f[3]]);
    const l4 = block(l3.output, 'L4', 'UPSAMPLE', [f[3], f[4]]);
    // NiftyNet constructs each up block before the concatenation that feeds it.
    const r3 = block(elementwiseConcat(ops, l3.branch, l4.output, root), 'R3', 'UPSAMPLE', [f[3], f[3]]);
    const r2 = block(elementwiseConcat(ops, l2.branch, r3.output, root), 'R2', 'UPSAMPLE', [f[2], f[2]]);
    const r1 = block(elementwiseConcat(ops, l1.branch, r2.output, root), 'R1_FC', 'NONE', [f[1], f[1], p.num_classes], [3, 3, 1]);
    root.unique('crop-88');
    return ops.crop(r1.branch, 44);
  },
});
