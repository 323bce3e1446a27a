/**
 * NiftyNet's ToyNet (niftynet/network/toynet.py): a 3×3 conv-bn-relu of `hidden_features`, then a 1×1 conv-bn to the
 * classes. Tiny; for tests and quick checks, 2-D or 3-D.
 */
import { defineNetwork } from './define';
import { convolutionalLayer } from './niftynet-layers';
import { Scope } from './scope';
import type { CommonParams } from './types';

interface ToyNetParams extends CommonParams {
  hidden_features: number;
}

export const toynet = defineNetwork<ToyNetParams>({
  name: 'toynet',
  description: 'NiftyNet ToyNet: conv-bn-relu (hidden_features) then a 1×1 conv-bn; 2-D or 3-D',
  params: {
    dims: { kind: 'dims', default: 2, doc: 'spatial dimensions' },
    hidden_features: { kind: 'int', default: 10, doc: 'features of the hidden layer (conv_input)' },
  },
  referenceSize: () => 4,
  forward(ops, x, p) {
    const root = new Scope('ToyNet');
    // NiftyNet's ToyNet constructs both layers before calling either.
    const hidden = convolutionalLayer(ops, x, root, 'conv_input', { filters: p.hidden_features, kernel: 3, acti: 'relu' });
    return convolutionalLayer(ops, hidden, root, 'conv_output', { filters: p.num_classes, kernel: 1 });
  },
});
