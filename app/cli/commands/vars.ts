/** `thaw vars`: the variables of a checkpoint (prefix, models/ folder or model_dir), as a table or as JSON. */
import { writeFile } from 'node:fs/promises';
import { dtypeBytes, listVariables, locateCheckpoint, numElements, type VariableInfo } from '../../../lib/checkpoint';
import { CheckpointError } from '../../../lib/checkpoint/errors';
import { compilePattern } from '../../../lib/selection/pattern';
import { Storages } from '../../../lib/storage';
import { formatTable } from '../../../lib/util/text-table';
import { parseCommandArgs, UsageError, type Command } from '../command';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function variablesTable(vars: VariableInfo[]): string {
  let totalElements = 0;
  let totalBytes = 0;
  const rows = vars.map((v) => {
    const elements = numElements(v.shape);
    totalElements += elements;
    const bytes = elements * dtypeBytes(v.dtype);
    totalBytes += bytes;
    return [v.name, v.dtype, `[${v.shape.join(', ')}]`, elements.toLocaleString('en-US'), v.dtype === 'string' ? '-' : formatBytes(bytes)];
  });
  const table = formatTable(['name', 'dtype', 'shape', 'elements', 'size'], rows, [false, false, false, true, true]);
  const total = `total: ${vars.length} variable${vars.length === 1 ? '' : 's'}, ${totalElements.toLocaleString('en-US')} elements, ${formatBytes(totalBytes)}`;
  return `${table}\n${total}`;
}

/** The listing format of TensorFlow-derived expected.json files: name, dtype, shape; one-space indentation. */
export function variablesJson(vars: VariableInfo[]): string {
  return JSON.stringify(vars.map(({ name, dtype, shape }) => ({ name, dtype, shape })), null, 1);
}

export const varsCommand: Command = {
  name: 'vars',
  usage: 'vars <ckpt> [--json] [--output FILE] [--match REGEX]',
  summary: 'list the variables of a checkpoint (prefix, models/ folder or model_dir)',
  flags: [
    ['--json', 'print TensorFlow\'s listing (name, dtype, shape per variable) as JSON'],
    ['--output FILE', 'write the listing to FILE instead of printing it'],
    ['--match REGEX', 'only the variables the regex selects, in the dialect of a stage\'s restore/freeze patterns'],
  ],
  details: '<ckpt> is a prefix (model_dir/models/model.ckpt-100, or one of its files), a models/ folder or a model_dir; for a folder, the checkpoint it lists is said first (the state file\'s latest, or else the newest complete one). Exit 0 listed, 1 unreadable, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean', default: false },
      output: { type: 'string' },
      match: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one checkpoint (prefix, models/ folder or model_dir)');
    const storages = new Storages(settings.storage);
    const located = await locateCheckpoint(positionals[0], { storages });
    // Which checkpoint of a folder this is: above the table; on stderr with --json, which stays TensorFlow's listing.
    const which = located.why ? `checkpoint: ${located.prefix} (${located.why})\n` : '';
    if (values.json && which) console.error(which.trimEnd());
    let vars = await listVariables(located.prefix, { storages });
    if (values.match !== undefined) {
      const pattern = compilePattern(values.match, { field: '--match' });
      const selected = new Set(pattern.filter(vars.map((v) => v.name)));
      vars = vars.filter((v) => selected.has(v.name));
    }
    const text = values.json ? variablesJson(vars) : `${which}${variablesTable(vars)}`;
    if (values.output === undefined) {
      console.log(text);
      return 0;
    }
    try {
      await writeFile(values.output, values.json ? text : `${text}\n`);
    } catch (err) {
      throw new CheckpointError(`cannot write ${values.output}: ${(err as Error).message}`, { file: values.output });
    }
    return 0;
  },
};
