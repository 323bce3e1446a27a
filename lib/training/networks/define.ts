/** Builds a NetworkDefinition from a param schema and a forward description; variables come from a shape trace. */
import { COMMON_PARAMS, resolveParams, type ParamSchema } from './params';
import { ShapeError, ShapeTracer } from './shape-trace';
import type { CommonParams, LayerOps, NetworkDefinition } from './types';
import type { VariableSpec } from './variable-spec';

export interface NetworkDescription<P extends CommonParams> {
  name: string;
  description: string;
  params: ParamSchema;
  /** Extra cross-field checks after defaults (e.g. list lengths); throw a UserError naming the field. */
  check?: (params: P) => void;
  /** A spatial size the network takes, used to list its variables (which do not depend on it). */
  referenceSize: (params: P) => number;
  /** The network's own input constraints (NiftyNet's asserts), as a message; null when `size` is fine. */
  inputRule?: (params: P, size: number[]) => string | null;
  forward: <T>(ops: LayerOps<T>, x: T, params: P) => T;
}

export function defineNetwork<P extends CommonParams>(desc: NetworkDescription<P>): NetworkDefinition {
  const schema = { ...COMMON_PARAMS, ...desc.params };
  const resolve = (params: Record<string, unknown>): P => {
    const resolved = resolveParams(desc.name, schema, params) as unknown as P;
    desc.check?.(resolved);
    return resolved;
  };
  const trace = (p: P, size: number[]) => {
    const tracer = new ShapeTracer(p.dims);
    const out = desc.forward(tracer, [...size, p.in_channels], p);
    return { tracer, out };
  };
  return {
    name: desc.name,
    description: desc.description,
    resolveParams: (params) => resolve(params) as P & Record<string, unknown>,
    variables(params): VariableSpec[] {
      const p = resolve(params);
      const { tracer, out } = trace(p, Array(p.dims).fill(desc.referenceSize(p)));
      if (out.at(-1) !== p.num_classes) throw new Error(`${desc.name} ends with ${out.at(-1)} channels, not num_classes`);
      return tracer.variables;
    },
    inputSizeProblem(params, size) {
      const p = resolve(params);
      const rule = desc.inputRule?.(p, size);
      if (rule) return rule;
      try {
        trace(p, size);
        return null;
      } catch (err) {
        if (err instanceof ShapeError) return err.message;
        throw err;
      }
    },
    outputSize(params, size) {
      return trace(resolve(params), size).out.slice(0, -1);
    },
    forward: (ops, x, params) => desc.forward(ops, x, resolve(params)),
  };
}

/** NiftyNet's layer_util.check_spatial_dims(x, lambda d: d % n == 0) as a message. */
export function divisibleBy(n: number, network: string) {
  return (_p: unknown, size: number[]): string | null =>
    size.every((s) => s % n === 0) ? null : `${network} needs every spatial size divisible by ${n}, got [${size.join(', ')}]`;
}
