/**
 * LayerOps over channel counts instead of tensors: running a network's forward pass with it lists the network's
 * variables in creation order, without an engine. Spatial sizes do not change variable shapes, so they are not tracked.
 */
import type { VariableRole, VariableSpec } from './variable-spec';
import type { ConvOptions, LayerOps } from './types';

export interface Traced {
  channels: number;
}

export class ShapeTracer implements LayerOps<Traced> {
  readonly variables: VariableSpec[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly dims: 2 | 3) {}

  private add_(name: string, shape: number[], role: VariableRole, layer: string, trainable: boolean): void {
    if (this.seen.has(name)) throw new Error(`network defines variable ${name} twice (layer names must be unique)`);
    this.seen.add(name);
    this.variables.push({ name, shape, dtype: 'float32', trainable, role, layer });
  }

  conv(x: Traced, layer: string, o: ConvOptions): Traced {
    const k = o.kernel ?? 3;
    this.add_(`${layer}/conv_/w`, [...Array(this.dims).fill(k), x.channels, o.filters], 'weight', layer, true);
    if (o.bias) this.add_(`${layer}/conv_/b`, [o.filters], 'bias', layer, true);
    return { channels: o.filters };
  }

  batchNorm(x: Traced, layer: string): Traced {
    const c = [x.channels];
    this.add_(`${layer}/bn_/beta`, c, 'bn_beta', layer, true);
    this.add_(`${layer}/bn_/gamma`, c, 'bn_gamma', layer, true);
    this.add_(`${layer}/bn_/moving_mean`, c, 'bn_moving_mean', layer, false);
    this.add_(`${layer}/bn_/moving_variance`, c, 'bn_moving_variance', layer, false);
    return x;
  }

  relu(x: Traced): Traced {
    return x;
  }

  add(a: Traced, b: Traced): Traced {
    if (a.channels !== b.channels) throw new Error(`add of ${a.channels} and ${b.channels} channels`);
    return a;
  }

  concat(xs: Traced[]): Traced {
    return { channels: xs.reduce((s, x) => s + x.channels, 0) };
  }

  padChannels(x: Traced, channels: number): Traced {
    return { channels: Math.max(channels, x.channels) };
  }

  maxPool(x: Traced): Traced {
    return x;
  }

  upsample(x: Traced): Traced {
    return x;
  }

  channels(x: Traced): number {
    return x.channels;
  }
}
