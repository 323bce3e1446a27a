/**
 * Segmentations against label maps: per case and per class (background included), the overlap counts and NiftyNet's
 * measures (niftynet/evaluation/pairwise_measures.py): Dice = 2·TP / (|seg| + |ref|), Jaccard = TP / (|seg| + |ref|
 * − TP). A class absent from both is undefined there (null; NiftyNet's 0/0 is NaN) and left out of the means.
 *
 * Both images of a pair must be on one grid (dims and affine). A segmentation with several channels (NiftyNet's
 * [x, y, z, 1, classes] probabilities) is read as its argmax; label maps must hold class indices.
 */
import { niftiAffine, readNifti, type Affine, type NiftiHeader } from '../data/nifti';
import { EvaluationError } from './errors';
import type { EvaluationPair } from './pairs';

export interface ClassMetrics {
  class: number;
  dice: number | null;
  jaccard: number | null;
  tp: number;
  fp: number;
  fn: number;
  /** Voxels of the class in the segmentation and in the label map. */
  segVoxels: number;
  labelVoxels: number;
}

export interface CaseEvaluation {
  case: string;
  segmentation: string;
  label: string;
  voxels: number;
  classes: ClassMetrics[];
  /** Mean Dice over the foreground classes (1…) where defined; null when none is. */
  foregroundDice: number | null;
}

export interface ClassSummary {
  class: number;
  /** Means over the cases where the measure is defined, and how many those are. */
  dice: number | null;
  jaccard: number | null;
  cases: number;
}

export interface EvaluationReport {
  numClasses: number;
  cases: CaseEvaluation[];
  mean: ClassSummary[];
  /** Mean over cases of their foreground Dice. */
  foregroundDice: number | null;
}

function evalError(message: string, file: string, fix: string, field?: string): EvaluationError {
  return new EvaluationError(message, { file, fix, field });
}

const spatialOf = (h: NiftiHeader) => [h.dims[0], h.dims[1] ?? 1, h.dims[2] ?? 1];
const channelsOf = (h: NiftiHeader) => h.dims.slice(3).reduce((a, b) => a * b, 1);

function affineText(a: Affine): string {
  return `[${a.slice(0, 3).map((r) => r.map((v) => Number(v.toFixed(4))).join(' ')).join('; ')}]`;
}

function sameAffine(a: Affine, b: Affine): boolean {
  return a.every((row, i) => row.every((v, j) => Math.abs(v - b[i][j]) <= 1e-4 * Math.max(1, Math.abs(v), Math.abs(b[i][j]))));
}

/** Class indices of a label map (or the argmax of a multi-channel segmentation), checked to be non-negative integers. */
function classIndices(file: string, data: Float32Array, header: NiftiHeader, role: 'segmentation' | 'label map'): Int32Array {
  const channels = channelsOf(header);
  const voxels = data.length / channels;
  const out = new Int32Array(voxels);
  if (channels > 1) {
    if (role === 'label map') {
      throw evalError(`${file}: a label map has one channel, this one has ${channels} (dims ${header.dims.join('×')})`, file, 'give one label map per case ([x, y, z], or [x, y, z, 1, 1] as NiftyNet writes them)');
    }
    for (let i = 0; i < voxels; i++) {
      let best = 0;
      for (let c = 1; c < channels; c++) if (data[c * voxels + i] > data[best * voxels + i]) best = c;
      out[i] = best;
    }
    return out;
  }
  for (let i = 0; i < voxels; i++) {
    const v = data[i];
    if (!(Number.isInteger(v) && v >= 0)) {
      throw evalError(`${file}: value ${v} at voxel ${i} is not a class index (the ${role} must hold 0, 1, 2, …)`, file,
        role === 'segmentation' ? 'evaluate argmax label maps (thaw infer without --output-prob) or probability maps with one channel per class' : 'give label maps of class indices, not probabilities or intensities');
    }
    out[i] = v;
  }
  return out;
}

interface Counts {
  tp: number[];
  seg: number[];
  ref: number[];
}

function countPair(seg: Int32Array, ref: Int32Array): Counts {
  const counts: Counts = { tp: [], seg: [], ref: [] };
  const bump = (a: number[], k: number) => {
    while (a.length <= k) a.push(0);
    a[k]++;
  };
  for (let i = 0; i < seg.length; i++) {
    bump(counts.seg, seg[i]);
    bump(counts.ref, ref[i]);
    if (seg[i] === ref[i]) bump(counts.tp, seg[i]);
  }
  return counts;
}

const mean = (xs: (number | null)[]): number | null => {
  const defined = xs.filter((x): x is number => x !== null);
  return defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length;
};

export function classMetrics(k: number, tp: number, segVoxels: number, labelVoxels: number): ClassMetrics {
  const sum = segVoxels + labelVoxels;
  return {
    class: k, dice: sum === 0 ? null : (2 * tp) / sum, jaccard: sum - tp === 0 ? null : tp / (sum - tp),
    tp, fp: segVoxels - tp, fn: labelVoxels - tp, segVoxels, labelVoxels,
  };
}

export function evaluateSegmentations(pairs: EvaluationPair[], opts: { numClasses?: number } = {}): EvaluationReport {
  const counted: { pair: EvaluationPair; voxels: number; counts: Counts }[] = [];
  for (const pair of pairs) {
    const seg = readNifti(pair.segmentation);
    const ref = readNifti(pair.label);
    const [ss, rs] = [spatialOf(seg.header), spatialOf(ref.header)];
    if (ss.join() !== rs.join()) {
      throw evalError(`${pair.segmentation}: its grid ${ss.join('×')} differs from its label map ${pair.label} (${rs.join('×')})`, pair.segmentation,
        'compare images on one grid: resample the segmentation to the label map, or check that these two files are the same case');
    }
    const [sa, ra] = [niftiAffine(seg.header), niftiAffine(ref.header)];
    if (!sameAffine(sa, ra)) {
      throw evalError(`${pair.segmentation}: its affine ${affineText(sa)} differs from its label map ${pair.label}'s ${affineText(ra)} (same dims, other place in space)`, pair.segmentation,
        'resample the segmentation onto the label map\'s grid, or check that these two files are the same case');
    }
    const s = classIndices(pair.segmentation, seg.data, seg.header, 'segmentation');
    const r = classIndices(pair.label, ref.data, ref.header, 'label map');
    counted.push({ pair, voxels: s.length, counts: countPair(s, r) });
  }
  const seen = Math.max(2, ...counted.flatMap(({ counts }) => [counts.seg.length, counts.ref.length]));
  const numClasses = opts.numClasses ?? seen;
  if (seen > numClasses) {
    const bad = counted.find(({ counts }) => Math.max(counts.seg.length, counts.ref.length) > numClasses)!;
    throw evalError(`${bad.pair.segmentation} / ${bad.pair.label}: class ${Math.max(bad.counts.seg.length, bad.counts.ref.length) - 1} is not below --num-classes ${numClasses}`,
      bad.pair.segmentation, 'raise --num-classes, or leave it out (then it is the largest class found + 1)', '--num-classes');
  }
  const cases: CaseEvaluation[] = counted.map(({ pair, voxels, counts }) => {
    const classes = [...Array(numClasses).keys()].map((k) => classMetrics(k, counts.tp[k] ?? 0, counts.seg[k] ?? 0, counts.ref[k] ?? 0));
    return { case: pair.case, segmentation: pair.segmentation, label: pair.label, voxels, classes, foregroundDice: mean(classes.slice(1).map((c) => c.dice)) };
  });
  const summary: ClassSummary[] = [...Array(numClasses).keys()].map((k) => {
    const dice = cases.map((c) => c.classes[k].dice);
    return { class: k, dice: mean(dice), jaccard: mean(cases.map((c) => c.classes[k].jaccard)), cases: dice.filter((d) => d !== null).length };
  });
  return { numClasses, cases, mean: summary, foregroundDice: mean(cases.map((c) => c.foregroundDice)) };
}

const num = (x: number | null, digits?: number) => (x === null ? '' : digits === undefined ? String(x) : x.toFixed(digits));

/** One row per case and class, with a header row. */
export function evaluationCsv(report: EvaluationReport): string {
  const header = 'case,class,dice,jaccard,tp,fp,fn,seg_voxels,label_voxels,segmentation,label';
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = report.cases.flatMap((c) => c.classes.map((k) =>
    [quote(c.case), k.class, num(k.dice), num(k.jaccard), k.tp, k.fp, k.fn, k.segVoxels, k.labelVoxels, quote(c.segmentation), quote(c.label)].join(',')));
  return `${[header, ...rows].join('\n')}\n`;
}

export { num as formatMetric };
