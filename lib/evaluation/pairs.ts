/**
 * Which segmentation goes with which label map: by case name, from file names. A segmentation's case is its name less
 * the extension, NiftyNet's `window_seg_` prefix and `_niftynet_out` postfix, and the segmentation suffix (`_seg`,
 * what `thaw infer` appends); a label map's is its name less the extension and the label suffix (`_label`, as in
 * pipelines' data.label_suffix). Where some files of a folder carry the suffix and some do not (images and labels in
 * one folder), only those with it count.
 */
import { EvaluationError } from './errors';
import { niftiFiles, niftiStem } from '../data/nifti-files';

export interface EvaluationPair {
  case: string;
  segmentation: string;
  label: string;
}

export interface PairOptions {
  segSuffix?: string;
  labelSuffix?: string;
  baseDir?: string;
}

export const DEFAULT_SEG_SUFFIX = '_seg';
export const DEFAULT_EVAL_LABEL_SUFFIX = '_label';

function keyed(files: string[], suffix: string, niftynet: boolean, what: string): Map<string, string> {
  const stems = files.map((f) => {
    let stem = niftiStem(f);
    if (niftynet) stem = stem.replace(/^window_seg_/, '').replace(/_niftynet_out$/, '');
    return stem;
  });
  const withSuffix = suffix !== '' && stems.some((s) => s.endsWith(suffix));
  const out = new Map<string, string>();
  stems.forEach((stem, i) => {
    if (withSuffix && !stem.endsWith(suffix)) return;
    const key = withSuffix ? stem.slice(0, -suffix.length) : stem;
    const other = out.get(key);
    if (other) {
      throw new EvaluationError(`two ${what}s are for case ${key}: ${other} and ${files[i]}`, {
        file: files[i], fix: `keep one ${what} per case in what you pass`,
      });
    }
    out.set(key, files[i]);
  });
  return out;
}

/** Pairs by case; a segmentation without a label map is an error, label maps without a segmentation are returned. */
export function pairSegmentations(segArg: string, labelArg: string, opts: PairOptions = {}): { pairs: EvaluationPair[]; unmatchedLabels: string[] } {
  const baseDir = opts.baseDir ?? process.cwd();
  const labelSuffix = opts.labelSuffix ?? DEFAULT_EVAL_LABEL_SUFFIX;
  const segs = keyed(niftiFiles(segArg, baseDir, 'segmentations'), opts.segSuffix ?? DEFAULT_SEG_SUFFIX, true, 'segmentation');
  const labels = keyed(niftiFiles(labelArg, baseDir, 'labels'), labelSuffix, false, 'label map');
  const orphans = [...segs].filter(([key]) => !labels.has(key));
  if (orphans.length > 0) {
    const list = orphans.slice(0, 3).map(([key, file]) => `${file} (case ${key})`).join(', ');
    throw new EvaluationError(`no label map for ${orphans.length} segmentation${orphans.length === 1 ? '' : 's'}: ${list}${orphans.length > 3 ? ', …' : ''}`, {
      file: orphans[0][1], field: 'labels',
      fix: `name label maps <case>${labelSuffix}.nii[.gz] or <case>.nii[.gz] (set --label-suffix / --seg-suffix to your names), or pass only segmentations that have one`,
    });
  }
  const pairs = [...segs].map(([key, segmentation]) => ({ case: key, segmentation, label: labels.get(key)! })).sort((a, b) => a.case.localeCompare(b.case));
  const unmatchedLabels = [...labels].filter(([key]) => !segs.has(key)).map(([, file]) => file);
  return { pairs, unmatchedLabels };
}
