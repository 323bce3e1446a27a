/**
 * Validation of a parsed pipeline against schemas/pipeline.schema.json (JSON Schema 2020-12, ajv), with ajv's errors
 * turned into messages a researcher can act on: unknown keys with a did-you-mean, enums listing what is valid, and
 * one message per `oneOf` instead of one per branch.
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import schema from '../../schemas/pipeline.schema.json';
import { listNetworks } from '../training/networks';
import { closest } from './problems';

const NETWORK_NAMES = listNetworks().map((n) => n.name);

export { schema as pipelineSchema };

/** A schema problem located by its path in the document; `atKey` points at the key rather than the value. */
export interface SchemaProblem {
  path: Array<string | number>;
  atKey: boolean;
  message: string;
}

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowMatchingProperties: true });
const validate = ajv.compile(schema);

/** NiftyNet `[TRAINING]` spellings that users bring along, and what thaw calls them. */
const NIFTYNET_NAMES: Record<string, string> = {
  max_iter: 'iterations',
  optimiser: 'optimizer',
  learning_rate: 'lr',
  spatial_window_size: 'spatial_size',
};

export function checkSchema(value: unknown): SchemaProblem[] {
  if (validate(value)) return [];
  return dropOneOfNoise(validate.errors ?? []).map(describe);
}

function pathOf(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * A `oneOf` reports every branch's errors. When the value has the type of one branch, keep that branch's errors (the
 * user meant it); otherwise keep only the `oneOf` error, described by what the alternatives are. Linear in the errors:
 * each error is matched to the `oneOf`s around it by instance path and schema path (the same `$ref`'d oneOf fails in
 * many stages, so the schema path alone would mix stages).
 */
function dropOneOfNoise(errors: ErrorObject[]): ErrorObject[] {
  const key = (instancePath: string, schemaPath: string) => `${instancePath}\0${schemaPath}`;
  interface OneOf {
    error: ErrorObject;
    inside: Array<{ error: ErrorObject; branch: number }>;
  }
  const oneOfs = new Map<string, OneOf>();
  for (const e of errors) if (e.keyword === 'oneOf') oneOfs.set(key(e.instancePath, e.schemaPath), { error: e, inside: [] });
  if (oneOfs.size === 0) return errors;
  // Innermost first: an error belongs to the nearest oneOf whose schema path and instance path enclose it.
  const owner = new Map<ErrorObject, OneOf>();
  for (const e of errors) {
    const segments = e.schemaPath.split('/');
    found: for (let s = segments.length - 2; s > 0; s--) {
      if (segments[s] !== 'oneOf' || !/^\d+$/.test(segments[s + 1])) continue;
      const schemaPath = segments.slice(0, s + 1).join('/');
      for (let instancePath = e.instancePath; ; instancePath = instancePath.slice(0, Math.max(0, instancePath.lastIndexOf('/')))) {
        const one = oneOfs.get(key(instancePath, schemaPath));
        if (one && one.error !== e) {
          one.inside.push({ error: e, branch: Number(segments[s + 1]) });
          owner.set(e, one);
          break found;
        }
        if (instancePath === '') break;
      }
    }
  }
  const outOfBranch = new Set<ErrorObject>();
  const resolved = new Set<ErrorObject>();
  for (const one of oneOfs.values()) {
    const typeFailed = new Set(one.inside.filter(({ error }) => error.keyword === 'type' && error.instancePath === one.error.instancePath).map((i) => i.branch));
    const meant = [...new Set(one.inside.map((i) => i.branch))].filter((b) => !typeFailed.has(b));
    for (const { error, branch } of one.inside) if (!(meant.length === 1 && branch === meant[0])) outOfBranch.add(error);
    if (meant.length === 1) resolved.add(one.error);
  }
  // Dropped: a resolved oneOf itself, and whatever lies in a branch that was not meant, at any level of nesting.
  const isDropped = (e: ErrorObject): boolean => {
    if (resolved.has(e)) return true;
    for (let x: ErrorObject | undefined = e; x; x = owner.get(x)?.error) if (outOfBranch.has(x)) return true;
    return false;
  };
  return errors.filter((e) => !isDropped(e));
}

/** The value a schema error is about, short: a 1 MB value in an error message helps nobody. */
function shortJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describe(e: ErrorObject): SchemaProblem {
  const path = pathOf(e.instancePath);
  const got = e.data === undefined ? '' : ` (got ${shortJson(e.data)})`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const guess = NIFTYNET_NAMES[key] && allowed.includes(NIFTYNET_NAMES[key]) ? NIFTYNET_NAMES[key] : closest(key, allowed);
      const hint = guess ? `did you mean "${guess}"? ` : '';
      return { path: [...path, key], atKey: true, message: `unknown key "${key}": ${hint}valid keys here: ${allowed.join(', ')}` };
    }
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      return { path, atKey: false, message: `missing required key "${key}"` };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
      return { path, atKey: false, message: `must be one of ${allowed.join(', ')}${got}` };
    }
    case 'pattern':
      return {
        path,
        atKey: false,
        message: `${shortJson(e.data)} is not a valid name: use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit (it becomes a folder name)`,
      };
    case 'oneOf':
      return { path, atKey: false, message: `${oneOfDescription(e)}${got}` };
    case 'type':
      return { path, atKey: false, message: `must be ${(e.params as { type: string | string[] }).type.toString().replace(',', ' or ')}${got}` };
    default:
      return { path, atKey: false, message: `${e.message ?? 'is invalid'}${got}` };
  }
}

function oneOfDescription(e: ErrorObject): string {
  if (e.schemaPath.includes('patterns')) return 'must be a regex (string) or a list of regexes ([] selects nothing)';
  if (e.instancePath === '/network') return `must be a network name (${NETWORK_NAMES.join(', ')}) or {name, params}`;
  return 'matches none of the allowed forms';
}
