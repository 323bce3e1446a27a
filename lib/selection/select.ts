/**
 * One stage's variable selection (pure): which variables of the stage's graph are restored from its starting
 * checkpoint or initialised, and which trainable ones are frozen or trained.
 *
 * A stage's graph is, as in TF1/NiftyNet, the network's variables plus the optimiser slots of its TRAINED variables
 * and the optimiser's globals (`ApplyGradients/beta1_power`, …): frozen variables get no Adam slots, which is why a checkpoint written by a
 * stage that froze part of the network lacks slots a later stage needs.
 *
 * Defaults (null = field not given, [] = select nothing; a name is selected when ANY pattern matches):
 * - root stage from an existing checkpoint: restore everything; freeze what vars_to_restore selects when it was
 *   given (the seed's rule), nothing when neither field was given (plain resume);
 * - root stage from scratch: restore nothing, freeze only what vars_to_freeze names;
 * - later stage: restore everything the parent saved, freeze only what vars_to_freeze names.
 * When restoring "everything", optimiser slots the checkpoint lacks are initialised and reported.
 * Batch-norm statistics of a frozen layer (one whose trainable variables, beta and gamma, are all frozen) count as
 * frozen, unless the stage keeps NiftyNet's behaviour (`frozen_batch_norm: batch`), which updates them.
 */
import type { StagePlan } from '../pipeline/plan';
import { isBatchNormStatistic, type VariableSpec } from '../training/networks/variable-spec';
import { optimizerVariables } from '../training/optimizers/slot-names';
import { compilePattern, PatternError, type CompiledPattern } from './pattern';

/** A variable as a checkpoint lists it. */
export interface CheckpointVariable {
  name: string;
  dtype: string;
  shape: number[];
}

/** What the training engine consumes (name lists), plus the optimiser slots initialised because the checkpoint lacked them. */
export interface StageSelection {
  restored: string[];
  initialised: string[];
  /** Trainable variables not updated, and the batch-norm statistics of frozen layers. */
  frozen: string[];
  /** Trainable variables the optimiser updates. */
  trained: string[];
  slotsInitialised: string[];
}

export type StartFate = 'restored' | 'initialised';
/** trained/frozen: trainable variables; statistics: batch-norm moving statistics updated in training mode;
 *  optimizer: optimiser state. */
export type UpdateFate = 'trained' | 'frozen' | 'statistics' | 'optimizer';

export interface VariableFate {
  name: string;
  shape: number[];
  dtype: string;
  /** e.g. `restored, frozen` */
  fate: string;
  start: StartFate;
  update: UpdateFate;
}

export interface PatternMatch {
  /** e.g. `stages[1].vars_to_restore[0]` */
  field: string;
  pattern: string;
  /** Names among the candidates the pattern matched (empty when it failed to compile). */
  matched: string[];
  error: PatternError | null;
}

export interface Mismatch {
  name: string;
  expected: CheckpointVariable;
  found: CheckpointVariable;
}

export interface SelectionInput {
  /** Selection does not depend on where the stage writes. */
  stage: Omit<StagePlan, 'checkpoint_dir'>;
  /** Position of the stage in plan.stages (for field names). */
  stageIndex: number;
  /** The variables of the checkpoint the stage starts from, or null when it starts from scratch. */
  checkpoint: readonly CheckpointVariable[] | null;
  /** The network's variables (roles tell weights from batch-norm statistics). */
  network: readonly VariableSpec[];
  isRoot: boolean;
  /** Pipeline file, for pattern error messages. */
  file?: string;
}

export type RestoreMode = 'none' | 'everything' | 'patterns';
export type FreezeMode = 'none' | 'patterns' | 'restore_patterns';

export interface SelectionResult {
  selection: StageSelection;
  /** The stage's graph: network variables, then optimiser state (what its checkpoints will hold). */
  graph: VariableSpec[];
  variables: VariableFate[];
  restoreMode: RestoreMode;
  freezeMode: FreezeMode;
  /** Restore patterns matched against the graph's names. */
  restorePatterns: PatternMatch[];
  /** Freeze patterns (or, under the seed's rule, the restore patterns) matched against the network's names. */
  freezePatterns: PatternMatch[];
  /** Variables to restore that the checkpoint does not hold (an error, unless optimiser state restored by default). */
  missing: string[];
  mismatched: Mismatch[];
}


function matchPatterns(patterns: readonly string[], fieldBase: string, candidates: readonly string[], file?: string): PatternMatch[] {
  return patterns.map((pattern, i) => {
    const field = `${fieldBase}[${i}]`;
    let compiled: CompiledPattern;
    try {
      compiled = compilePattern(pattern, { file, field });
      return { field, pattern, matched: compiled.filter(candidates), error: null };
    } catch (err) {
      if (err instanceof PatternError) return { field, pattern, matched: [], error: err };
      throw err;
    }
  });
}

function union(matches: readonly PatternMatch[]): Set<string> {
  return new Set(matches.flatMap((m) => m.matched));
}

function sameVariable(a: CheckpointVariable, b: CheckpointVariable): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

export function selectVariables(input: SelectionInput): SelectionResult {
  const { stage, network, checkpoint, isRoot, file } = input;
  const field = (name: string) => `stages[${input.stageIndex}].${name}`;
  const networkNames = network.map((v) => v.name);
  const trainable = network.filter((v) => v.trainable);

  // Freeze first: the trained variables decide which optimiser slots the graph has.
  let freezeMode: FreezeMode = 'none';
  let freezePatterns: PatternMatch[] = [];
  if (stage.vars_to_freeze !== null) {
    freezeMode = 'patterns';
    freezePatterns = matchPatterns(stage.vars_to_freeze, field('vars_to_freeze'), networkNames, file);
  } else if (isRoot && checkpoint !== null && stage.vars_to_restore !== null) {
    freezeMode = 'restore_patterns';
    freezePatterns = matchPatterns(stage.vars_to_restore, field('vars_to_restore'), networkNames, file);
  }
  const freezeSelected = union(freezePatterns);
  const trainedSpecs = trainable.filter((v) => !freezeSelected.has(v.name));
  const trainedNames = new Set(trainedSpecs.map((v) => v.name));
  const layersWithTrained = new Set(trainedSpecs.map((v) => v.layer));
  const frozenLayers = new Set(trainable.filter((v) => !layersWithTrained.has(v.layer)).map((v) => v.layer));

  const graph = [...network, ...optimizerVariables(stage.settings.optimizer, trainedSpecs)];
  const graphNames = graph.map((v) => v.name);

  // Restore.
  const inCheckpoint = new Map((checkpoint ?? []).map((v) => [v.name, v]));
  let restoreMode: RestoreMode = 'none';
  let restorePatterns: PatternMatch[] = [];
  let wanted: VariableSpec[] = [];
  if (checkpoint !== null && stage.vars_to_restore === null) {
    restoreMode = 'everything';
    wanted = graph;
  } else if (checkpoint !== null && stage.vars_to_restore !== null) {
    restoreMode = 'patterns';
    restorePatterns = matchPatterns(stage.vars_to_restore, field('vars_to_restore'), graphNames, file);
    const selected = union(restorePatterns);
    wanted = graph.filter((v) => selected.has(v.name));
  }
  const restored = new Set<string>();
  const missing: string[] = [];
  const slotsInitialised: string[] = [];
  const mismatched: Mismatch[] = [];
  for (const v of wanted) {
    const found = inCheckpoint.get(v.name);
    if (!found) {
      const optimizerState = v.role === 'optimizer_slot' || v.role === 'optimizer_power';
      if (restoreMode === 'everything' && optimizerState) slotsInitialised.push(v.name);
      else missing.push(v.name);
    } else if (!sameVariable(found, v)) {
      mismatched.push({ name: v.name, expected: { name: v.name, dtype: v.dtype, shape: v.shape }, found });
    } else restored.add(v.name);
  }

  // NiftyNet's behaviour (frozen_batch_norm: batch) keeps updating the statistics of frozen batch norms.
  const statisticsFixed = stage.settings.frozen_batch_norm === 'moving';
  const frozen = network
    .filter((v) => (v.trainable && !trainedNames.has(v.name)) || (statisticsFixed && isBatchNormStatistic(v) && frozenLayers.has(v.layer)))
    .map((v) => v.name);
  const frozenSet = new Set(frozen);
  const variables = graph.map((v): VariableFate => {
    const start: StartFate = restored.has(v.name) ? 'restored' : 'initialised';
    const update: UpdateFate = frozenSet.has(v.name)
      ? 'frozen'
      : trainedNames.has(v.name)
        ? 'trained'
        : isBatchNormStatistic(v)
          ? 'statistics'
          : 'optimizer';
    return { name: v.name, shape: v.shape, dtype: v.dtype, fate: `${start}, ${update}`, start, update };
  });

  return {
    selection: {
      restored: graphNames.filter((n) => restored.has(n)),
      initialised: graphNames.filter((n) => !restored.has(n)),
      frozen,
      trained: trainedSpecs.map((v) => v.name),
      slotsInitialised,
    },
    graph,
    variables,
    restoreMode,
    freezeMode,
    restorePatterns,
    freezePatterns,
    missing,
    mismatched,
  };
}
