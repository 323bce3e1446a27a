/** `thaw eval` as a library: Dice and Jaccard per class and per case, segmentations against label maps. */
export {
  classMetrics, evaluateSegmentations, evaluationCsv, formatMetric,
  type CaseEvaluation, type ClassMetrics, type ClassSummary, type EvaluationReport,
} from './evaluate';
export { EvaluationError } from './errors';
export { DEFAULT_EVAL_LABEL_SUFFIX, DEFAULT_SEG_SUFFIX, pairSegmentations, type EvaluationPair, type PairOptions } from './pairs';
