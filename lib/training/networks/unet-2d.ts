/**
 * NiftyNet's 2-D U-Net (Ronneberger et al. 2015; niftynet/network/unet_2d.py, scope `UNet2D`): five levels of two
 * VALID 3×3 conv-bn-acti layers with bias (`TwoConv`, `TwoConv_1`, …), 2×2 max pooling down, 2×2 VALID
 * deconv-bn-acti up, the skip centre-cropped (and linearly resized) to the up-sampled size before concatenation, and
 * a 1×1 convolution with bias. VALID convolutions shrink the output: 572² in gives 388² out at the default widths.
 */
import { defineNetwork } from './define';
import { convolutionalLayer, deconvolutionalLayer, elementwiseConcat, type ConvolutionalLayerOptions } from './niftynet-layers';
import { ACTIVATION_PARAM } from './params';
import { Scope } from './scope';
import type { Activation, CommonParams, LayerOps } from './types';

interface UNet2DParams extends CommonParams {
  activation_function: Activation;
  n_features: number[];
}

export const unet2d = defineNetwork<UNet2DParams>({
  name: 'unet_2d',
  description: 'NiftyNet 2-D U-Net (UNet2D): VALID convolutions, output smaller than the input (572² → 388²)',
  params: {
    dims: { kind: 'dims', default: 2, doc: 'spatial dimensions' },
    activation_function: ACTIVATION_PARAM,
    n_features: { kind: 'ints', default: [64, 128, 256, 512, 1024], length: 5, doc: 'features per level (NiftyNet UNet2D.n_fea)' },
  },
  referenceSize: () => 188,
  forward<T>(ops: LayerOps<T>, x: T, p: UNet2DParams): T {
    const root = new Scope('UNet2D');
    const layer: Omit<ConvolutionalLayerOptions, 'filters'> = { padding: 'VALID', bias: true, acti: p.activation_function };
    const twoConv = (input: T, filters: number): T => {
      const scope = root.unique('TwoConv');
      const y = convolutionalLayer(ops, input, scope, 'conv', { ...layer, filters, kernel: 3 });
      return convolutionalLayer(ops, y, scope, 'conv', { ...layer, filters, kernel: 3 });
    };
    const pool = (input: T) => {
      root.unique('max_pooling');
      return ops.pool(input, { func: 'MAX', kernel: 2, stride: 2 });
    };
    const up = (input: T, filters: number) => deconvolutionalLayer(ops, input, root, 'deconv', { ...layer, filters, kernel: 2, stride: 2 });
    const cropConcat = (skip: T, upsampled: T): T => {
      const scope = root.unique('crop_concat');
      const target = ops.shape(upsampled).slice(0, -1);
      const border = Math.floor((ops.shape(skip)[0] - target[0]) / 2);
      scope.unique('crop');
      let a = ops.crop(skip, border);
      scope.unique('trilinear_resize');
      a = ops.linearResize(a, target);
      return elementwiseConcat(ops, a, upsampled, scope);
    };
    const f = p.n_features;
    const skips: T[] = [];
    let h = x;
    for (let level = 0; level < 4; level++) {
      h = twoConv(h, f[level]);
      skips.push(h);
      h = pool(h);
    }
    h = twoConv(h, f[4]);
    for (let level = 3; level >= 0; level--) {
      h = twoConv(cropConcat(skips[level], up(h, f[level])), f[level]);
    }
    return convolutionalLayer(ops, h, root, 'conv', { filters: p.num_classes, kernel: 1, bias: true, normalization: null });
  },
});
