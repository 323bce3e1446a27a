/**
 * LayerOps over shapes instead of tensors: running a network's forward pass with it lists the network's variables in
 * creation order and the spatial size of every intermediate, without an engine. Shape rules are TensorFlow's
 * (tf.nn.convolution, conv_transpose, tf.nn.pool); a size the network cannot take throws a ShapeError.
 */
import { InvalidNetworkParamsError } from './errors';
import type { Activation, ConvOptions, DeconvOptions, LayerOps, PoolOptions } from './types';
import type { VariableRole, VariableSpec } from './variable-spec';

/**
 * Most variables one network may have: NiftyNet's largest have a few hundred. Params such as `res_repeat: 100000`
 * would otherwise list millions (minutes and gigabytes before anything is said).
 */
export const MAX_NETWORK_VARIABLES = 10_000;
/** Most values in one variable: a typed array's and a TensorFlow.js tensor's limit. */
export const MAX_VARIABLE_ELEMENTS = 2 ** 31 - 1;

/** [...spatial, channels] */
export type TracedShape = number[];

export class ShapeError extends Error {}

export class ShapeTracer implements LayerOps<TracedShape> {
  readonly variables: VariableSpec[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly dims: 2 | 3) {}

  private variable(name: string, shape: number[], role: VariableRole, layer: string, trainable: boolean, init?: number): void {
    if (this.seen.has(name)) throw new Error(`network defines variable ${name} twice (layer scopes must be unique)`);
    if (this.variables.length >= MAX_NETWORK_VARIABLES) {
      throw new InvalidNetworkParamsError(`the network's params make it more than ${MAX_NETWORK_VARIABLES} variables (NiftyNet's largest networks have a few hundred)`, {
        field: 'network.params',
        fix: 'use fewer blocks, layers or repeats in network.params',
      });
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!(elements <= MAX_VARIABLE_ELEMENTS)) {
      throw new InvalidNetworkParamsError(`the network's params make variable ${name} [${shape.join(', ')}] of ${elements} values, more than one tensor holds (${MAX_VARIABLE_ELEMENTS})`, {
        field: 'network.params',
        fix: 'use fewer features in network.params',
      });
    }
    this.seen.add(name);
    this.variables.push({ name, shape, dtype: 'float32', trainable, role, layer, ...(init === undefined ? {} : { init }) });
  }

  private spatial(x: TracedShape): number[] {
    return x.slice(0, -1);
  }

  private channels(x: TracedShape): number {
    return x[x.length - 1];
  }

  private positive(sizes: number[], what: string): number[] {
    if (sizes.some((s) => !(s >= 1))) throw new ShapeError(`${what} leaves a spatial size of [${sizes.join(', ')}]`);
    return sizes;
  }

  conv(x: TracedShape, scope: string, o: ConvOptions): TracedShape {
    const k = o.kernel;
    const stride = o.stride ?? 1;
    const dilation = o.dilation ?? 1;
    this.variable(`${scope}/w`, [...Array(this.dims).fill(k), this.channels(x), o.filters], 'weight', scope, true);
    if (o.bias) this.variable(`${scope}/b`, [o.filters], 'bias', scope, true);
    const out = this.spatial(x).map((s) =>
      o.padding === 'VALID' ? Math.ceil((s - (k - 1) * dilation) / stride) : Math.ceil(s / stride));
    return [...this.positive(out, `the ${o.padding ?? 'SAME'} convolution ${scope}`), o.filters];
  }

  deconv(x: TracedShape, scope: string, o: DeconvOptions): TracedShape {
    const stride = o.stride ?? 1;
    this.variable(`${scope}/w`, [...Array(this.dims).fill(o.kernel), o.filters, this.channels(x)], 'deconv_weight', scope, true);
    if (o.bias) this.variable(`${scope}/b`, [o.filters], 'bias', scope, true);
    const out = this.spatial(x).map((s) => (o.padding === 'VALID' ? s * stride + Math.max(o.kernel - stride, 0) : s * stride));
    return [...out, o.filters];
  }

  batchNorm(x: TracedShape, scope: string): TracedShape {
    const c = [this.channels(x)];
    this.variable(`${scope}/beta`, c, 'bn_beta', scope, true);
    this.variable(`${scope}/gamma`, c, 'bn_gamma', scope, true);
    this.variable(`${scope}/moving_mean`, c, 'bn_moving_mean', scope, false);
    this.variable(`${scope}/moving_variance`, c, 'bn_moving_variance', scope, false);
    for (const stat of ['moving_mean', 'moving_variance']) {
      this.variable(`${scope}/${scope}/${stat}/biased`, c, 'bn_debias', scope, false);
      this.variable(`${scope}/${scope}/${stat}/local_step`, [], 'bn_debias', scope, false);
    }
    return x;
  }

  instanceNorm(x: TracedShape, scope: string): TracedShape {
    const c = [this.channels(x)];
    this.variable(`${scope}/InstanceNorm/beta`, c, 'norm_beta', scope, true);
    this.variable(`${scope}/InstanceNorm/gamma`, c, 'norm_gamma', scope, true);
    return x;
  }

  activation(x: TracedShape, func: Activation, scope: string): TracedShape {
    if (func === 'prelu') this.variable(`${scope}/alpha`, [this.channels(x)], 'prelu_alpha', scope, true);
    return x;
  }

  /** Elementwise sum; b may broadcast a single channel (DenseVNet's spatial prior). */
  add(a: TracedShape, b: TracedShape): TracedShape {
    const same = a.length === b.length && a.every((d, i) => d === b[i] || (i === a.length - 1 && b[i] === 1));
    if (!same) throw new ShapeError(`cannot add shapes [${a.join(', ')}] and [${b.join(', ')}]`);
    return a;
  }

  concat(xs: TracedShape[]): TracedShape {
    const spatial = this.spatial(xs[0]);
    for (const x of xs) {
      if (this.spatial(x).some((s, i) => s !== spatial[i])) {
        throw new ShapeError(`cannot concatenate spatial sizes [${spatial.join(', ')}] and [${this.spatial(x).join(', ')}]`);
      }
    }
    return [...spatial, xs.reduce((sum, x) => sum + this.channels(x), 0)];
  }

  padChannels(x: TracedShape, before: number, after: number): TracedShape {
    return [...this.spatial(x), this.channels(x) + before + after];
  }

  crop(x: TracedShape, border: number): TracedShape {
    return [...this.positive(this.spatial(x).map((s) => s - 2 * border), `cropping ${border} voxels`), this.channels(x)];
  }

  pool(x: TracedShape, o: PoolOptions): TracedShape {
    const out = this.spatial(x).map((s) => (o.padding === 'VALID' ? Math.ceil((s - o.kernel + 1) / o.stride) : Math.ceil(s / o.stride)));
    return [...this.positive(out, `${o.func} pooling`), this.channels(x)];
  }

  linearResize(x: TracedShape, size: number[]): TracedShape {
    return [...size, this.channels(x)];
  }

  spaceToBatch(x: TracedShape, factor: number): TracedShape {
    const spatial = this.spatial(x);
    if (spatial.some((s) => s % factor !== 0)) {
      throw new ShapeError(`a dilation of ${factor} needs spatial sizes divisible by ${factor}, got [${spatial.join(', ')}]`);
    }
    return [...spatial.map((s) => s / factor), this.channels(x)];
  }

  batchToSpace(x: TracedShape, factor: number): TracedShape {
    return [...this.spatial(x).map((s) => s * factor), this.channels(x)];
  }

  tileChannels(x: TracedShape, times: number): TracedShape {
    return [...this.spatial(x), this.channels(x) * times];
  }

  constantVariable(name: string, shape: number[], init: number): TracedShape {
    this.variable(name, shape, 'constant', name.slice(0, name.lastIndexOf('/')), true, init);
    return shape.slice(1);
  }

  log(x: TracedShape): TracedShape {
    return x;
  }

  affineAugmentation(): null {
    return null;
  }

  shape(x: TracedShape): number[] {
    return x;
  }
}
