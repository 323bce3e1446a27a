/** Reading a network's `params` from the pipeline: defaults, type checks, and InvalidNetworkParamsErrors that name the field. */
import { InvalidNetworkParamsError } from './errors';
import { ACTIVATIONS } from './types';

export type ParamSpec =
  | { kind: 'int'; default: number; min?: number; doc: string }
  | { kind: 'ints'; default: number[]; min?: number; length?: number; doc: string }
  /** A list of integers or nulls (DenseVNet's n_down_channels: null = no down-sampling after that block). */
  | { kind: 'optional_ints'; default: (number | null)[]; doc: string }
  /** A list of non-empty integer lists (DenseVNet's dilation_rates, one list per block). */
  | { kind: 'int_lists'; default: number[][]; doc: string }
  | { kind: 'number'; default: number; min?: number; max?: number; doc: string }
  | { kind: 'bool'; default: boolean; doc: string }
  | { kind: 'activation'; default: string; doc: string }
  | { kind: 'dims'; default: 2 | 3; only?: 2 | 3; doc: string };

export type ParamSchema = Record<string, ParamSpec>;

/** The params every network has. */
export const COMMON_PARAMS: ParamSchema = {
  in_channels: { kind: 'int', default: 1, min: 1, doc: 'image channels (modalities)' },
  num_classes: { kind: 'int', default: 2, min: 2, doc: 'segmentation classes, background included (NiftyNet num_classes)' },
};

/** NiftyNet's [NETWORK] activation_function, whose default is relu (user_parameters_default.py). */
export const ACTIVATION_PARAM: ParamSpec = {
  kind: 'activation', default: 'relu', doc: `NiftyNet activation_function: ${ACTIVATIONS.join(' | ')}`,
};

function bad(network: string, key: string, message: string, fix: string): InvalidNetworkParamsError {
  return new InvalidNetworkParamsError(`network ${network}: params.${key} ${message}`, {
    field: `network.params.${key}`,
    fix,
  });
}

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;
const show = (v: unknown) => JSON.stringify(v);

function check(network: string, key: string, spec: ParamSpec, value: unknown): void {
  const fail = (message: string, fix = `${spec.doc}; default ${show(spec.default)}`) => {
    throw bad(network, key, message, fix);
  };
  switch (spec.kind) {
    case 'dims':
      if (value !== 2 && value !== 3) fail(`must be 2 or 3, got ${show(value)}`, 'set dims: 2 or dims: 3');
      if (spec.only && value !== spec.only) fail(`must be ${spec.only} (NiftyNet's ${network} is ${spec.only}-D only), got ${show(value)}`, `set dims: ${spec.only}`);
      return;
    case 'int':
      if (!isInt(value, spec.min ?? 1)) fail(`must be an integer >= ${spec.min ?? 1}, got ${show(value)}`);
      return;
    case 'ints':
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => isInt(v, spec.min ?? 1))) {
        fail(`must be a non-empty list of integers >= ${spec.min ?? 1}, got ${show(value)}`);
      }
      if (spec.length !== undefined && (value as unknown[]).length !== spec.length) {
        fail(`must have ${spec.length} entries, got ${(value as unknown[]).length}`);
      }
      return;
    case 'optional_ints':
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => v === null || isInt(v, 1))) {
        fail(`must be a non-empty list of integers >= 1 or null, got ${show(value)}`);
      }
      return;
    case 'int_lists':
      if (!Array.isArray(value) || value.length === 0 ||
          !value.every((l) => Array.isArray(l) && l.length > 0 && l.every((v) => isInt(v, 1)))) {
        fail(`must be a non-empty list of non-empty integer lists, got ${show(value)}`);
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < (spec.min ?? -Infinity) || value > (spec.max ?? Infinity)) {
        fail(`must be a number${spec.min !== undefined ? ` >= ${spec.min}` : ''}${spec.max !== undefined ? ` and <= ${spec.max}` : ''}, got ${show(value)}`);
      }
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail(`must be true or false, got ${show(value)}`);
      return;
    case 'activation':
      if (!(ACTIVATIONS as readonly unknown[]).includes(value)) {
        fail(`must be one of ${ACTIVATIONS.join(', ')}, got ${show(value)}`, `use NiftyNet's activation_function names; default ${show(spec.default)}`);
      }
      return;
  }
}

/** Applies defaults and checks every value; unknown keys are refused so that typos do not pass silently. */
export function resolveParams(network: string, schema: ParamSchema, params: Record<string, unknown>): Record<string, unknown> {
  const known = Object.keys(schema);
  for (const key of Object.keys(params)) {
    if (!(key in schema)) {
      throw bad(network, key, 'is not a parameter of this network',
        `NiftyNet's ${network} has no such setting; use one of: ${known.join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const value = params[key] ?? spec.default;
    check(network, key, spec, value);
    out[key] = structuredClone(value);
  }
  return out;
}

/** An InvalidNetworkParamsError for a cross-field problem of resolved params. */
export function paramsError(network: string, key: string, message: string, fix: string): InvalidNetworkParamsError {
  return bad(network, key, message, fix);
}

/** Checks that list params have the same length (one entry per level/block). */
export function requireSameLength(network: string, params: Record<string, unknown>, keys: string[]): void {
  const lengths = keys.map((k) => (params[k] as unknown[]).length);
  if (new Set(lengths).size > 1) {
    throw bad(network, keys.join('/'), `must have the same length, got ${lengths.join(' vs ')}`, 'give one entry per block in each list');
  }
}
