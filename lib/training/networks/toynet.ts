/** ToyNet: a few conv-bn-relu layers and a classifier; for tests and quick checks. */
import { classifier, convBnRelu, defineNetwork } from './define';
import type { CommonParams } from './types';

interface ToyNetParams extends CommonParams {
  features: number;
  layers: number;
}

export const toynet = defineNetwork<ToyNetParams>({
  name: 'toynet',
  description: 'tiny fully convolutional net (conv-bn-relu × layers, 1×1 classifier), 2-D or 3-D',
  params: {
    dims: { kind: 'dims', default: 2, doc: 'spatial dimensions' },
    features: { kind: 'int', default: 8, doc: 'features per layer' },
    layers: { kind: 'int', default: 2, doc: 'conv-bn-relu layers' },
  },
  spatialMultiple: () => 1,
  forward(ops, x, p) {
    let h = x;
    for (let i = 1; i <= p.layers; i++) h = convBnRelu(ops, h, `ToyNet/conv_${i}`, p.features);
    return classifier(ops, h, 'ToyNet/classifier', p.num_classes);
  },
});
