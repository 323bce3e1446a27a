/**
 * `thaw eval`: segmentations (thaw infer's or NiftyNet's outputs) against label maps, paired by case name: Dice and
 * Jaccard per class and per case, as a table, CSV (--csv FILE) or JSON (--json).
 */
import { writeFileSync } from 'node:fs';
import { EvaluationError, evaluateSegmentations, evaluationCsv, formatMetric, pairSegmentations, type EvaluationReport } from '../../../lib/evaluation';
import { formatTable } from '../../../lib/util/text-table';
import { parseCommandArgs, UsageError, type Command } from '../command';

function reportTable(r: EvaluationReport): string {
  const f = (x: number | null) => (x === null ? '-' : formatMetric(x, 4));
  const rows = r.cases.flatMap((c) => c.classes.map((k) => [c.case, String(k.class), f(k.dice), f(k.jaccard), String(k.segVoxels), String(k.labelVoxels)]));
  const means = r.mean.map((m) => [`mean (${m.cases} case${m.cases === 1 ? '' : 's'})`, String(m.class), f(m.dice), f(m.jaccard), '', '']);
  const table = formatTable(['case', 'class', 'dice', 'jaccard', 'seg voxels', 'label voxels'], [...rows, ...means], [false, true, true, true, true, true]);
  return `${table}\n\nmean foreground Dice: ${f(r.foregroundDice)} over ${r.cases.length} case${r.cases.length === 1 ? '' : 's'}, classes 1-${r.numClasses - 1}`;
}

export const evalCommand: Command = {
  name: 'eval',
  usage: 'eval <segmentations> <labels> [--seg-suffix S] [--label-suffix S] [--num-classes N] [--csv FILE] [--json]',
  summary: 'Dice and Jaccard per class and case: segmentations against label maps (files, folders or globs, paired by case name)',
  flags: [
    ['--seg-suffix S', 'what segmentation names end with before .nii[.gz] (default _seg, as thaw infer writes; NiftyNet\'s window_seg_<case>_niftynet_out is read as it is)'],
    ['--label-suffix S', 'what label map names end with (default _label); case names pair the two'],
    ['--num-classes N', 'classes, background included (default: the largest class found + 1)'],
    ['--csv FILE', 'also write one row per case and class (Dice, Jaccard, TP, FP, FN, voxels) to FILE'],
    ['--json', 'print the report as JSON'],
  ],
  details: 'Each of <segmentations> and <labels> is a NIfTI file, a folder of them or a quoted glob. A pair must share grid and affine. Exit 0 evaluated, 1 a file or pair thaw cannot evaluate (named, with the fix), 2 usage.',
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      'seg-suffix': { type: 'string' },
      'label-suffix': { type: 'string' },
      'num-classes': { type: 'string' },
      csv: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (positionals.length !== 2) throw new UsageError('expected the segmentations and the label maps (each a file, a folder or a glob)');
    const numClasses = values['num-classes'] === undefined ? undefined : Number(values['num-classes']);
    if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses >= 2)) throw new UsageError(`--num-classes ${values['num-classes']}: expected an integer >= 2`);
    const { pairs, unmatchedLabels } = pairSegmentations(positionals[0], positionals[1], { segSuffix: values['seg-suffix'], labelSuffix: values['label-suffix'] });
    if (unmatchedLabels.length > 0) {
      process.stderr.write(`thaw eval: ${unmatchedLabels.length} label map${unmatchedLabels.length === 1 ? ' has' : 's have'} no segmentation and ${unmatchedLabels.length === 1 ? 'is' : 'are'} not evaluated (e.g. ${unmatchedLabels[0]})\n`);
    }
    const report = evaluateSegmentations(pairs, { numClasses });
    if (values.csv !== undefined) {
      try {
        writeFileSync(values.csv, evaluationCsv(report));
      } catch (err) {
        throw new EvaluationError(`cannot write ${values.csv} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: values.csv, field: '--csv', fix: 'check the path and that its folder exists' });
      }
    }
    console.log(values.json ? JSON.stringify(report, null, 2) : reportTable(report));
    return 0;
  },
};
