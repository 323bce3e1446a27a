/**
 * U-Net (2-D or 3-D): per level two conv-bn-relu layers, max-pool down; nearest upsampling + conv-bn-relu up,
 * concatenation with the skip, two conv-bn-relu layers; 1×1 classifier.
 */
import { classifier, convBnRelu, defineNetwork } from './define';
import type { CommonParams } from './types';

interface UNetParams extends CommonParams {
  base_features: number;
  depth: number;
}

export const unet = defineNetwork<UNetParams>({
  name: 'unet',
  description: 'U-Net with batch norm; `depth` poolings, features doubling from `base_features`; 2-D or 3-D',
  params: {
    dims: { kind: 'dims', default: 2, doc: 'spatial dimensions' },
    base_features: { kind: 'int', default: 8, doc: 'features at the first level (doubling per level)' },
    depth: { kind: 'int', default: 2, doc: 'number of poolings' },
  },
  spatialMultiple: (p) => 2 ** p.depth,
  forward(ops, x, p) {
    const skips = [];
    let h = x;
    for (let level = 1; level <= p.depth; level++) {
      const f = p.base_features * 2 ** (level - 1);
      h = convBnRelu(ops, h, `UNet/enc_${level}_1`, f);
      h = convBnRelu(ops, h, `UNet/enc_${level}_2`, f);
      skips.push(h);
      h = ops.maxPool(h, 2);
    }
    const bottom = p.base_features * 2 ** p.depth;
    h = convBnRelu(ops, h, 'UNet/bottom_1', bottom);
    h = convBnRelu(ops, h, 'UNet/bottom_2', bottom);
    for (let level = p.depth; level >= 1; level--) {
      const f = p.base_features * 2 ** (level - 1);
      h = convBnRelu(ops, ops.upsample(h, 2), `UNet/up_${level}`, f, 2);
      h = ops.concat([skips[level - 1], h]);
      h = convBnRelu(ops, h, `UNet/dec_${level}_1`, f);
      h = convBnRelu(ops, h, `UNet/dec_${level}_2`, f);
    }
    return classifier(ops, h, 'UNet/classifier', p.num_classes);
  },
});
