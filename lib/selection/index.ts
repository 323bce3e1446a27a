/** Variable selection: the Python-regex dialect, per-stage selection, and the preflight of a whole plan. */
export { compilePattern, PatternError, MATCH_TIME_LIMIT_MS, type CompiledPattern, type PatternLocation } from './pattern';
export {
  selectVariables, type CheckpointVariable, type SelectionInput, type SelectionResult, type StageSelection, type VariableFate,
} from './select';
export { checkStage, type StageContext, type StageSource } from './checks';
export { checkPlan, type PreflightDeps, type PreflightReport, type StageReport } from './preflight';
export type { Problem } from './problems';
