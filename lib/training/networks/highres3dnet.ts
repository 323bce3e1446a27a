/**
 * HighRes3DNet (Li et al. 2017, as in NiftyNet): a conv-bn-relu stem, then per level `blocks` residual blocks of two
 * pre-activation dilated convolutions (dilation 1, 2, 4 by default), zero-padded identity shortcuts where the width
 * grows; a 1×1 conv-bn-relu and the classifier. No pooling: full resolution throughout.
 */
import { bnReluConv, classifier, convBnRelu, defineNetwork } from './define';
import { requireSameLength } from './params';
import type { CommonParams } from './types';

interface HighRes3DNetParams extends CommonParams {
  features: number[];
  dilations: number[];
  blocks: number;
  head_features: number;
}

export const highres3dnet = defineNetwork<HighRes3DNetParams>({
  name: 'highres3dnet',
  description: 'residual network of dilated convolutions at full resolution (HighRes3DNet); 3-D by default',
  params: {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    features: { kind: 'ints', default: [16, 32, 64], doc: 'features per dilation level (the stem uses the first)' },
    dilations: { kind: 'ints', default: [1, 2, 4], doc: 'dilation per level' },
    blocks: { kind: 'int', default: 3, doc: 'residual blocks per level' },
    head_features: { kind: 'int', default: 80, doc: 'features of the 1×1 layer before the classifier' },
  },
  check: (p) => requireSameLength('highres3dnet', p as unknown as Record<string, unknown>, ['features', 'dilations']),
  spatialMultiple: () => 1,
  forward(ops, x, p) {
    let h = convBnRelu(ops, x, 'HighRes3DNet/conv_0', p.features[0]);
    p.features.forEach((f, level) => {
      for (let b = 1; b <= p.blocks; b++) {
        const block = `HighRes3DNet/res_${level + 1}_${b}`;
        let r = bnReluConv(ops, h, `${block}/conv_1`, f, 3, p.dilations[level]);
        r = bnReluConv(ops, r, `${block}/conv_2`, f, 3, p.dilations[level]);
        h = ops.add(ops.padChannels(h, f), r);
      }
    });
    h = convBnRelu(ops, h, 'HighRes3DNet/conv_1', p.head_features, 1);
    return classifier(ops, h, 'HighRes3DNet/conv_2', p.num_classes);
  },
});
