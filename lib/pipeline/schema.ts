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
 * user meant it); otherwise keep only the `oneOf` error, described by what the alternatives are.
 */
function dropOneOfNoise(errors: ErrorObject[]): ErrorObject[] {
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  let kept = errors;
  for (const one of oneOfs) {
    const prefix = `${one.schemaPath}/`;
    const branchOf = (e: ErrorObject) => Number(e.schemaPath.slice(prefix.length).split('/')[0]);
    const inside = kept.filter((e) => e.schemaPath.startsWith(prefix));
    const branches = new Set(inside.map(branchOf));
    const typeFailed = new Set(
      inside.filter((e) => e.keyword === 'type' && e.instancePath === one.instancePath).map(branchOf),
    );
    const meant = [...branches].filter((b) => !typeFailed.has(b));
    kept = kept.filter((e) => !e.schemaPath.startsWith(prefix) || (meant.length === 1 && branchOf(e) === meant[0]));
    if (meant.length === 1) kept = kept.filter((e) => e !== one);
  }
  return kept;
}

function describe(e: ErrorObject): SchemaProblem {
  const path = pathOf(e.instancePath);
  const got = e.data === undefined ? '' : ` (got ${JSON.stringify(e.data)})`;
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
        message: `${JSON.stringify(e.data)} is not a valid name: use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit (it becomes a folder name)`,
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
