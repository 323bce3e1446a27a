/** An imported pipeline as the YAML file `thaw import` writes: where it came from on top, then the pipeline. */
import path from 'node:path';
import { stringify } from 'yaml';
import { formatImportNote, type ImportedPipeline } from './import';

export function importedPipelineText(imported: ImportedPipeline, files: string[], outputFile: string): string {
  const header = [
    `# ${path.basename(outputFile)}: imported by thaw import from ${files.length === 1 ? 'one NiftyNet config' : `${files.length} NiftyNet configs, one stage each, in this order`}:`,
    ...files.map((f) => `#   ${path.resolve(f)}`),
    '# Iterations are what NiftyNet trained (max_iter − starting_iter); the freeze set is NiftyNet\'s',
    '# (vars_to_freeze, else vars_to_restore) and frozen batch norms behave as NiftyNet\'s (frozen_batch_norm: batch).',
    ...(imported.warnings.length === 0 ? [] : ['#', `# Not imported, or different from NiftyNet (${imported.warnings.length}):`, ...imported.warnings.map((w) => `#   ${formatImportNote(w)}`)]),
  ];
  // lineWidth 0: regexes stay on one line, as they were in the .ini.
  return `${header.join('\n')}\n${stringify(imported.pipeline, { lineWidth: 0 })}`;
}
