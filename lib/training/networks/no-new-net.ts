/**
 * NiftyNet's no-new-Net (Isensee et al. 2018; niftynet/network/no_new_net.py, scope `NoNewNet`): a 3-D U-Net with
 * instance normalisation, four down blocks of two conv-in-acti layers and 2×2×2 max pooling, trilinear up-sampling
 * (LinearResizeLayer) instead of deconvolutions, skips concatenated before the up-sampled features, and a 1×1×1
 * convolution without normalisation or bias. Input divisible by 16; 3-D only.
 */
import { defineNetwork, divisibleBy } from './define';
import { convolutionalLayer, elementwiseConcat } from './niftynet-layers';
import { ACTIVATION_PARAM } from './params';
import { Scope } from './scope';
import type { Activation, CommonParams, LayerOps } from './types';

interface NoNewNetParams extends CommonParams {
  activation_function: Activation;
  n_features: number[];
}

type BlockFunc = 'DOWNSAMPLE' | 'UPSAMPLE' | 'NONE';

function block<T>(ops: LayerOps<T>, x: T, parent: Scope, name: string, func: BlockFunc, features: number[], kernels: number[],
  acti: Activation): { output: T; branch: T } {
  const scope = parent.unique(name);
  let y = x;
  features.forEach((f, i) => {
    // A 1×1×1 layer has neither activation nor normalisation.
    const hasActi = kernels[i] > 1;
    y = convolutionalLayer(ops, y, scope, String(f), {
      filters: f, kernel: kernels[i], acti: hasActi ? acti : null, normalization: hasActi ? 'instance' : null,
    });
  });
  const branch = y;
  if (func === 'DOWNSAMPLE') {
    scope.unique('max_down_2x2');
    y = ops.pool(y, { func: 'MAX', kernel: 2, stride: 2 });
  } else if (func === 'UPSAMPLE') {
    scope.unique('trilinear_resize');
    y = ops.linearResize(y, ops.shape(y).slice(0, -1).map((s) => 2 * s));
  }
  return { output: y, branch };
}

export const noNewNet = defineNetwork<NoNewNetParams>({
  name: 'no_new_net',
  description: 'NiftyNet no-new-Net: 3-D U-Net with instance norm and trilinear up-sampling; input divisible by 16',
  params: {
    dims: { kind: 'dims', default: 3, only: 3, doc: 'spatial dimensions (3-D only)' },
    activation_function: ACTIVATION_PARAM,
    n_features: { kind: 'ints', default: [30, 60, 120, 240, 480], length: 5, doc: 'features per level (NiftyNet no_new_net n_features)' },
  },
  referenceSize: () => 16,
  inputRule: divisibleBy(16, 'no_new_net'),
  forward<T>(ops: LayerOps<T>, x: T, p: NoNewNetParams): T {
    const root = new Scope('NoNewNet');
    const f = p.n_features;
    const acti = p.activation_function;
    const down = [0, 1, 2, 3].reduce<{ input: T; skips: T[] }>(({ input, skips }, level) => {
      const b = block(ops, input, root, `L${level + 1}`, 'DOWNSAMPLE', [f[level], f[level]], [3, 3], acti);
      return { input: b.output, skips: [...skips, b.branch] };
    }, { input: x, skips: [] });
    let h = block(ops, down.input, root, 'bottom', 'UPSAMPLE', [f[4], f[3]], [3, 3], acti).output;
    for (let level = 3; level >= 1; level--) {
      h = block(ops, elementwiseConcat(ops, down.skips[level], h, root), root, `R${level + 1}`, 'UPSAMPLE',
        [f[level], f[level - 1]], [3, 3], acti).output;
    }
    return block(ops, elementwiseConcat(ops, down.skips[0], h, root), root, 'R1_FC', 'NONE', [f[0], f[0], p.num_classes],
      [3, 3, 1], acti).output;
  },
});
