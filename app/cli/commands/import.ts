/**
 * `thaw import <a.ini> [b.ini …] -o pipeline.yaml`: NiftyNet configs into one pipeline (lib/niftynet). Every key
 * that is not carried over is printed as a warning with its file and line; the YAML is then checked like
 * `thaw check` checks it (schema and stage DAG), so what is written loads. Exit 0 written, 1 a config thaw cannot
 * import (named, with the fix), 2 usage.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeUserError, isUserError } from '../../../lib/errors';
import { resolveStartingCheckpoint } from '../../../lib/checkpoint';
import { formatImportNote, importNiftyNetConfigs } from '../../../lib/niftynet/import';
import { importedPipelineText } from '../../../lib/niftynet/pipeline-text';
import { parsePipeline } from '../../../lib/pipeline/load';
import { Storages } from '../../../lib/storage';
import { writeFileAtomic } from '../../../lib/storage/atomic-files';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const importCommand: Command = {
  name: 'import',
  usage: 'import <a.ini> [b.ini ...] --output <pipeline.yaml> [--name NAME] [--force]',
  summary: 'NiftyNet .ini configs into a pipeline: one stage per file, a chain in the order given',
  flags: [
    ['--output FILE, -o', 'the pipeline YAML to write (refused if it exists, unless --force)'],
    ['--name NAME', 'pipeline name (default: the first file\'s name)'],
    ['--force', 'overwrite the output file'],
  ],
  details: 'Maps [NETWORK], [TRAINING], [SYSTEM] model_dir and dataset_split_file, the input sections (csv_file) and [SEGMENTATION]; each later file starts from the stage before, and where NiftyNet\'s starting_iter or model_dir says otherwise, a warning explains what the pipeline does. Check the result with thaw check.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      output: { type: 'string', short: 'o' },
      name: { type: 'string' },
      force: { type: 'boolean', default: false },
    });
    if (positionals.length === 0) throw new UsageError('expected one or more NiftyNet .ini files');
    const output = values.output;
    if (output === undefined) throw new UsageError('expected --output <pipeline.yaml> (or -o): where to write the pipeline');
    if (existsSync(output) && !values.force) throw new UsageError(`${output} exists: give --force to overwrite it, or another -o`);
    const storages = new Storages(settings.storage);
    const imported = await importNiftyNetConfigs(positionals, { name: values.name, latestIteration: async (dir) => (await resolveStartingCheckpoint(dir, -1, { storages }))?.iteration ?? null });
    for (const w of imported.warnings) console.error(`warning: ${formatImportNote(w)}`);
    const text = importedPipelineText(imported, positionals, output);
    // What is written must load: a mapping that produced an invalid pipeline is thaw's bug, not the user's.
    try {
      parsePipeline(text, path.resolve(output));
    } catch (err) {
      const why = isUserError(err) ? describeUserError(err) : String(err);
      throw new Error(`thaw import produced a pipeline that does not load (please report this): ${why}`, { cause: err });
    }
    await writeFileAtomic(output, Buffer.from(text));
    console.log(`${output}: ${(imported.pipeline.stages as unknown[]).length} stage(s) from ${positionals.length} file(s), ${imported.warnings.length} warning(s); next: thaw check ${output}`);
    return 0;
  },
};
