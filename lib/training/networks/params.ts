/** Reading a network's `params` from the pipeline: defaults, type checks, and UserErrors that name the field. */
import { UserError } from '../../errors';

export type ParamSpec =
  | { kind: 'int'; default: number; min?: number; doc: string }
  | { kind: 'ints'; default: number[]; min?: number; doc: string }
  | { kind: 'dims'; default: 2 | 3; doc: string };

export type ParamSchema = Record<string, ParamSpec>;

/** The params every network has. */
export const COMMON_PARAMS: ParamSchema = {
  in_channels: { kind: 'int', default: 1, min: 1, doc: 'image channels (modalities)' },
  num_classes: { kind: 'int', default: 2, min: 2, doc: 'segmentation classes, background included' },
};

function bad(network: string, key: string, message: string, fix: string): UserError {
  return new UserError('InvalidNetworkParams', `network ${network}: params.${key} ${message}`, {
    field: `network.params.${key}`,
    fix,
  });
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/** Applies defaults and checks every value; unknown keys are refused so that typos do not pass silently. */
export function resolveParams(network: string, schema: ParamSchema, params: Record<string, unknown>): Record<string, unknown> {
  const known = Object.keys(schema);
  for (const key of Object.keys(params)) {
    if (!(key in schema)) throw bad(network, key, 'is not a parameter of this network', `use one of: ${known.join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const value = params[key] ?? spec.default;
    if (spec.kind === 'dims') {
      if (value !== 2 && value !== 3) throw bad(network, key, `must be 2 or 3, got ${JSON.stringify(value)}`, 'set dims: 2 or dims: 3');
    } else if (spec.kind === 'int') {
      const min = spec.min ?? 1;
      if (!isInt(value, min)) throw bad(network, key, `must be an integer >= ${min}, got ${JSON.stringify(value)}`, `${spec.doc}; default ${spec.default}`);
    } else {
      const min = spec.min ?? 1;
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => isInt(v, min))) {
        throw bad(network, key, `must be a non-empty list of integers >= ${min}, got ${JSON.stringify(value)}`, `${spec.doc}; default ${JSON.stringify(spec.default)}`);
      }
    }
    out[key] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}

/** Checks that list params have the same length (one entry per level/block). */
export function requireSameLength(network: string, params: Record<string, unknown>, keys: string[]): void {
  const lengths = keys.map((k) => (params[k] as number[]).length);
  if (new Set(lengths).size > 1) {
    throw bad(network, keys.join('/'), `must have the same length, got ${lengths.join(' vs ')}`, 'give one entry per level in each list');
  }
}
