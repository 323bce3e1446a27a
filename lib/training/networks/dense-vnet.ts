/**
 * NiftyNet's Dense V-Net (Gibson et al. 2018; niftynet/network/dense_vnet.py, scope `DenseVNet`):
 * the input, average-pooled to half resolution and batch-normalised (`batch_norm`), is concatenated with a strided
 * 5×5×5 conv-bn (`conv_bn`); each `dense_feature_stack_block[_k]` is a dense stack of conv-bn-relu layers whose
 * concatenation feeds a skip conv-bn-relu and a strided down conv-bn-relu; every skip is linearly resized to half
 * resolution, all are concatenated with the pooled input, classified by a conv with bias (`conv`, no normalisation),
 * optionally plus a log spatial prior, and resized to the input size. While training, the input is warped by a small
 * random affine transform and the output warped back (augmentation_scale). NiftyNet's hyper-parameters are the params.
 */
import { defineNetwork } from './define';
import { convolutionalLayer } from './niftynet-layers';
import { paramsError } from './params';
import { Scope } from './scope';
import type { CommonParams, LayerOps } from './types';

interface DenseVNetParams extends CommonParams {
  prior_size: number;
  n_dense_channels: number[];
  n_seg_channels: number[];
  n_initial_conv_channels: number;
  n_down_channels: (number | null)[];
  dilation_rates: number[][];
  seg_kernel_size: number;
  augmentation_scale: number;
  use_bdo: boolean;
  use_prior: boolean;
  use_dense_connections: boolean;
  use_coords: boolean;
}

const NAME = 'dense_vnet';

function check(p: DenseVNetParams): void {
  const blocks = p.n_dense_channels.length;
  for (const key of ['n_seg_channels', 'n_down_channels', 'dilation_rates'] as const) {
    if (p[key].length !== blocks) {
      throw paramsError(NAME, key, `has ${p[key].length} entries but n_dense_channels has ${blocks}`, 'give one entry per dense block');
    }
  }
  // NiftyNet 0.6.0 raises NotImplementedError for these; thaw refuses them the same way.
  if (p.dilation_rates.flat().some((d) => d !== 1)) {
    throw paramsError(NAME, 'dilation_rates', 'has a rate other than 1, which NiftyNet\'s DenseVNet does not implement',
      'use 1 for every layer; the length of each list is the number of layers in that dense block');
  }
  const refused: [keyof DenseVNetParams, boolean, string][] = [
    ['use_dense_connections', !p.use_dense_connections, 'non-dense connections'],
    ['use_coords', p.use_coords, 'image coordinate augmentation'],
    ['use_bdo', p.use_bdo, 'batch-wise dropout (channel-sparse convolutions)'],
  ];
  for (const [key, bad, what] of refused) {
    if (bad) throw paramsError(NAME, key, `asks for ${what}, which thaw's DenseVNet does not implement`, `remove ${key} (NiftyNet's default)`);
  }
}

export const denseVNet = defineNetwork<DenseVNetParams>({
  name: NAME,
  description: 'NiftyNet Dense V-Net: dense feature stacks at 1/2, 1/4, 1/8 resolution, skips resized and fused',
  params: {
    dims: { kind: 'dims', default: 3, doc: 'spatial dimensions' },
    prior_size: { kind: 'int', default: 24, doc: 'edge of the spatial prior (use_prior)' },
    n_dense_channels: { kind: 'ints', default: [4, 8, 16], doc: 'features each dense layer adds, per block' },
    n_seg_channels: { kind: 'ints', default: [12, 24, 24], doc: 'features of each block\'s skip convolution' },
    n_initial_conv_channels: { kind: 'int', default: 24, doc: 'features of the strided 5×5×5 first convolution' },
    n_down_channels: { kind: 'optional_ints', default: [24, 24, null], doc: 'features of each block\'s down convolution (null: none)' },
    dilation_rates: { kind: 'int_lists', default: [[1, 1, 1, 1, 1], Array(10).fill(1), Array(10).fill(1)], doc: 'per block, one rate (1) per dense layer' },
    seg_kernel_size: { kind: 'int', default: 3, doc: 'kernel of the final convolution' },
    augmentation_scale: { kind: 'number', default: 0.1, min: 0, max: 1, doc: 'extent of the random affine warp while training (0: none)' },
    use_bdo: { kind: 'bool', default: false, doc: 'batch-wise dropout (not supported)' },
    use_prior: { kind: 'bool', default: false, doc: 'add a learnt log spatial prior' },
    use_dense_connections: { kind: 'bool', default: true, doc: 'densely connected blocks (must be true)' },
    use_coords: { kind: 'bool', default: false, doc: 'coordinate channels (not supported)' },
  },
  check,
  referenceSize: (p) => 2 ** (p.dilation_rates.length + 1),
  inputRule: (p, size) => {
    const modulo = 2 ** p.dilation_rates.length;
    return size.every((s) => s % modulo === 0) ? null : `dense_vnet needs spatial sizes divisible by ${modulo}, got [${size.join(', ')}]`;
  },
  forward<T>(ops: LayerOps<T>, input: T, p: DenseVNetParams): T {
    const root = new Scope('DenseVNet');
    let augmentation: { output: T; inverse: (y: T) => T } | null = null;
    if (p.augmentation_scale > 0) {
      root.unique('AffineAugmentation');
      augmentation = ops.affineAugmentation(input, p.augmentation_scale);
    }
    const x = augmentation?.output ?? input;
    // create_network(): NiftyNet constructs the first conv, every block and the final conv before calling any.
    const blockScopes = p.n_dense_channels.map(() => root.unique('dense_feature_stack_block'));
    root.unique('avg_pooling');
    let pooled = ops.pool(x, { func: 'AVG', kernel: 3, stride: 2 });
    pooled = ops.batchNorm(pooled, root.unique('batch_norm').name);
    const featureMapSize = ops.shape(pooled).slice(0, -1);
    const initial = convolutionalLayer(ops, x, root, 'conv', { filters: p.n_initial_conv_channels, kernel: 5, stride: 2 });
    const featureMaps = [pooled];
    let down: T | null = ops.concat([pooled, initial]);
    blockScopes.forEach((scope, b) => {
      const dfs = scope.unique('dense_feature_stack_block');
      const stack: T[] = [down as T];
      for (let i = 0; i < p.dilation_rates[b].length; i++) {
        stack.push(convolutionalLayer(ops, ops.concat(stack), dfs, 'conv', { filters: p.n_dense_channels[b], kernel: 3, acti: 'relu' }));
      }
      const merged = ops.concat(stack);
      const skip = convolutionalLayer(ops, merged, scope, 'conv', { filters: p.n_seg_channels[b], kernel: 3, acti: 'relu' });
      const downChannels = p.n_down_channels[b];
      down = downChannels === null ? null
        : convolutionalLayer(ops, merged, scope, 'conv', { filters: downChannels, kernel: 3, stride: 2, acti: 'relu' });
      root.unique('trilinear_resize');
      featureMaps.push(ops.linearResize(skip, featureMapSize));
    });
    let output = convolutionalLayer(ops, ops.concat(featureMaps), root, 'conv',
      { filters: p.num_classes, kernel: p.seg_kernel_size, normalization: null, bias: true });
    if (p.use_prior) {
      const scope = root.unique('spatial_prior_block');
      const prior = ops.constantVariable(scope.path('prior'), [1, ...Array(p.dims).fill(p.prior_size), 1], 1);
      output = ops.add(output, ops.log(ops.linearResize(prior, featureMapSize)));
    }
    if (augmentation) output = augmentation.inverse(output);
    return ops.linearResize(output, ops.shape(input).slice(0, -1));
  },
});
