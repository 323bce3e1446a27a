/**
 * DenseVNet (Gibson et al. 2018, after NiftyNet): a strided stem (`DenseVNet/conv_1`, half resolution), then per
 * block a dense feature stack of pre-activation dilated units, a skip convolution (`DenseVNet/skip_conv/block_<b>`)
 * and a strided down convolution (`DenseVNet/conv_<b+1>`) into the next block; the skips are upsampled to half
 * resolution, concatenated, classified by `DenseVNet/fin_conv` and upsampled to full resolution.
 * So the seed's `^((?!DenseVNet\/(skip_conv|fin_conv)).)*$` selects everything but the decoder.
 */
import { bnReluConv, classifier, convBnRelu, defineNetwork } from './define';
import { requireSameLength } from './params';
import type { CommonParams } from './types';

interface DenseVNetParams extends CommonParams {
  down_features: number[];
  skip_features: number[];
  units: number[];
  growth: number[];
  stem_kernel: number;
}

export const denseVNet = defineNetwork<DenseVNetParams>({
  name: 'dense_vnet',
  description: 'dense V-network: dense feature stacks at 1/2, 1/4, 1/8 resolution with skip convs; 3-D by default',
  params: {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    down_features: { kind: 'ints', default: [24, 24, 24], doc: 'features of the stem/down convolution per block' },
    skip_features: { kind: 'ints', default: [12, 24, 24], doc: 'features of each skip convolution' },
    units: { kind: 'ints', default: [5, 10, 10], doc: 'dense units per block' },
    growth: { kind: 'ints', default: [4, 8, 16], doc: 'features added by each dense unit, per block' },
    stem_kernel: { kind: 'int', default: 5, doc: 'kernel edge of the strided stem convolution' },
  },
  check: (p) =>
    requireSameLength('dense_vnet', p as unknown as Record<string, unknown>, ['down_features', 'skip_features', 'units', 'growth']),
  spatialMultiple: (p) => 2 ** p.units.length,
  forward(ops, x, p) {
    let h = convBnRelu(ops, x, 'DenseVNet/conv_1', p.down_features[0], p.stem_kernel, 2);
    const skips = [];
    for (let b = 0; b < p.units.length; b++) {
      const stack = [h];
      for (let u = 1; u <= p.units[b]; u++) {
        const dilation = 2 ** ((u - 1) % 3); // 1, 2, 4, 1, 2, 4, …: the dilated dense stacks of the paper
        stack.push(bnReluConv(ops, ops.concat(stack), `DenseVNet/dfs_${b + 1}/unit_${u}`, p.growth[b], 3, dilation));
      }
      const features = ops.concat(stack);
      const skip = convBnRelu(ops, features, `DenseVNet/skip_conv/block_${b + 1}`, p.skip_features[b]);
      skips.push(b === 0 ? skip : ops.upsample(skip, 2 ** b));
      if (b + 1 < p.units.length) h = convBnRelu(ops, features, `DenseVNet/conv_${b + 2}`, p.down_features[b + 1], 3, 2);
    }
    const logits = classifier(ops, ops.concat(skips), 'DenseVNet/fin_conv', p.num_classes);
    return ops.upsample(logits, 2);
  },
});
