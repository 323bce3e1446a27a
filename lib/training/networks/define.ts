/** Builds a NetworkDefinition from a param schema and a forward description; variables come from a shape trace. */
import { COMMON_PARAMS, resolveParams, type ParamSchema } from './params';
import { ShapeTracer } from './shape-trace';
import type { CommonParams, LayerOps, NetworkDefinition } from './types';
import type { VariableSpec } from './variable-spec';

export interface NetworkDescription<P extends CommonParams> {
  name: string;
  description: string;
  params: ParamSchema;
  /** Extra cross-field checks after defaults (e.g. list lengths). */
  check?: (params: P) => void;
  spatialMultiple: (params: P) => number;
  forward: <T>(ops: LayerOps<T>, x: T, params: P) => T;
}

export function defineNetwork<P extends CommonParams>(desc: NetworkDescription<P>): NetworkDefinition {
  const schema = { ...COMMON_PARAMS, ...desc.params };
  const resolve = (params: Record<string, unknown>): P => {
    const resolved = resolveParams(desc.name, schema, params) as unknown as P;
    desc.check?.(resolved);
    return resolved;
  };
  return {
    name: desc.name,
    description: desc.description,
    resolveParams: (params) => resolve(params) as P & Record<string, unknown>,
    spatialMultiple: (params) => desc.spatialMultiple(resolve(params)),
    variables(params): VariableSpec[] {
      const p = resolve(params);
      const tracer = new ShapeTracer(p.dims);
      const out = desc.forward(tracer, { channels: p.in_channels }, p);
      if (out.channels !== p.num_classes) throw new Error(`${desc.name} ends with ${out.channels} channels, not num_classes`);
      return tracer.variables;
    },
    forward: (ops, x, params) => desc.forward(ops, x, resolve(params)),
  };
}

/** NiftyNet's ConvolutionalLayer: conv (no bias) → batch norm → ReLU, all under one layer scope. */
export function convBnRelu<T>(ops: LayerOps<T>, x: T, layer: string, filters: number, kernel = 3, stride = 1, dilation = 1): T {
  return ops.relu(ops.batchNorm(ops.conv(x, layer, { filters, kernel, stride, dilation }), layer));
}

/** Pre-activation unit (HighRes3DNet, DenseVNet): batch norm → ReLU → conv. */
export function bnReluConv<T>(ops: LayerOps<T>, x: T, layer: string, filters: number, kernel = 3, dilation = 1): T {
  return ops.conv(ops.relu(ops.batchNorm(x, layer)), layer, { filters, kernel, dilation });
}

/** The 1×1 classifier with bias that ends every network. */
export function classifier<T>(ops: LayerOps<T>, x: T, layer: string, numClasses: number): T {
  return ops.conv(x, layer, { filters: numClasses, kernel: 1, bias: true });
}
