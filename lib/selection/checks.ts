/**
 * The preflight checks of one stage (pure): turn a SelectionResult into errors (the stage cannot run as written) and
 * warnings (it can, but probably not as meant).
 */
import type { OptimizerName, StagePlan } from '../pipeline/plan';
import type { VariableSpec } from '../training/networks/variable-spec';
import { perVariableSlotSuffixes } from '../training/optimizers/slot-names';
import { listNames, plural, problem, type Problem } from './problems';
import type { PatternMatch, SelectionResult } from './select';

/** Where a stage's starting checkpoint comes from. */
export type StageSource =
  /** startFailed: a starting checkpoint was wanted but is missing (reported already; its stages are checked as if from scratch). */
  | { kind: 'scratch'; reason: string; startFailed: boolean }
  | { kind: 'checkpoint'; prefix: string }
  | { kind: 'parent'; stage: string; prefix: string; data: unknown };

export interface StageContext {
  file: string;
  stage: StagePlan;
  stageIndex: number;
  network: readonly VariableSpec[];
  /** The variables of the checkpoint the stage starts from (null from scratch). */
  checkpoint: readonly { name: string }[] | null;
  source: StageSource;
  /** Variables trained by an earlier stage of this lineage → the last stage that trained them. */
  earlierTrained: ReadonlyMap<string, string>;
}

export interface StageProblems {
  errors: Problem[];
  warnings: Problem[];
}

const shapeText = (v: { shape: number[]; dtype: string }) => `[${v.shape.join(', ')}] ${v.dtype}`;

function sourceText(source: StageSource): string {
  if (source.kind === 'parent') return `the checkpoint of stage "${source.stage}" (${source.prefix})`;
  if (source.kind === 'checkpoint') return `the starting checkpoint ${source.prefix}`;
  return 'no checkpoint';
}

/** The optimiser slot `name` belongs to: `[variable, suffix]`, or null when it is no slot. */
function slotOf(name: string, optimizer: OptimizerName): [string, string] | null {
  for (const suffix of perVariableSlotSuffixes(optimizer)) {
    if (name.endsWith(`/${suffix}`)) return [name.slice(0, -suffix.length - 1), suffix];
  }
  return null;
}

export function checkStage(ctx: StageContext, result: SelectionResult): StageProblems {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const { stage, file } = ctx;
  const field = (name: string) => `stages[${ctx.stageIndex}].${name}`;
  const make = (code: string, fieldName: string, text: string, fix: string, variables: string[] = []) =>
    problem({ code, file, stage: stage.name, field: fieldName, text, fix, variables });

  const ownPatterns = [...result.restorePatterns, ...(result.freezeMode === 'patterns' ? result.freezePatterns : [])];
  for (const m of ownPatterns) {
    if (m.error) errors.push({ ...make('PatternError', m.field, m.error.reason, m.error.details.fix ?? ''), message: m.error.message });
    else if (m.pattern.includes(':0')) {
      warnings.push(make('PatternHasColonZero', m.field, `the pattern '${m.pattern}' contains ":0", but checkpoint variable names have no ":0" suffix`,
        'remove ":0" from the pattern'));
    }
  }

  checkRestorePatterns(result.restorePatterns, result, (m) => errors.push(make('RestoreMatchesNothing', m.field,
    `the pattern '${m.pattern}' matches none of the ${result.graph.length} variables of the stage's graph (e.g. ${listNames(result.graph.map((v) => v.name), 3)})`,
    `check the pattern against the checkpoint with "thaw vars <checkpoint> --match '${m.pattern}'"`)));

  if (result.freezeMode === 'patterns') errors.push(...checkFreezePatterns(ctx, result.freezePatterns, make));
  warnings.push(...checkExcludesNothing(ctx, result, make));
  errors.push(...checkMissing(ctx, result, make));

  if (result.mismatched.length > 0) {
    const details = result.mismatched.map((m) => `${m.name}: network ${shapeText(m.expected)}, checkpoint ${shapeText(m.found)}`);
    errors.push(make('ShapeMismatch', field('vars_to_restore'),
      `cannot restore ${plural(result.mismatched.length, 'variable')} whose shape or dtype differs from ${sourceText(ctx.source)}: ${details.join('; ')}`,
      'leave them out of vars_to_restore so that they are initialised, or change network.params to match the checkpoint',
      result.mismatched.map((m) => m.name)));
  }

  const trainable = ctx.network.filter((v) => v.trainable);
  if (trainable.length > 0 && result.selection.trained.length === 0) errors.push(nothingToTrain(result, trainable.length, make, field));

  // Without the starting checkpoint a root's selection is a guess: only the errors that do not depend on it count.
  if (ctx.source.kind === 'scratch' && ctx.source.startFailed) return { errors, warnings: [] };
  if (ctx.source.kind === 'scratch' && stage.vars_to_restore !== null && stage.vars_to_restore.length > 0) {
    warnings.push(make('RestoreIgnored', field('vars_to_restore'), `vars_to_restore is given, but the stage starts from scratch (${ctx.source.reason}), so nothing is restored`,
      'set starting_iter to the iteration of a checkpoint (or -1 for the latest), or remove vars_to_restore'));
  }
  warnings.push(...checkContradictions(ctx, result, make, field));
  return { errors, warnings };
}

type Make = (code: string, field: string, text: string, fix: string, variables?: string[]) => Problem;

function checkRestorePatterns(matches: readonly PatternMatch[], result: SelectionResult, report: (m: PatternMatch) => void): void {
  if (result.restoreMode !== 'patterns') return;
  for (const m of matches) if (!m.error && m.matched.length === 0) report(m);
}

function checkFreezePatterns(ctx: StageContext, matches: readonly PatternMatch[], make: Make): Problem[] {
  const trainable = new Set(ctx.network.filter((v) => v.trainable).map((v) => v.name));
  const out: Problem[] = [];
  for (const m of matches) {
    if (m.error) continue;
    if (m.matched.length === 0) {
      out.push(make('FreezeMatchesNothing', m.field, `the pattern '${m.pattern}' matches none of the network's ${ctx.network.length} variables (e.g. ${listNames(ctx.network.map((v) => v.name), 3)})`,
        `check the pattern with "thaw vars <checkpoint> --match '${m.pattern}'"`));
    } else if (!m.matched.some((n) => trainable.has(n))) {
      out.push(make('FreezeMatchesNoTrainable', m.field,
        `the pattern '${m.pattern}' matches only variables that are not trainable (${listNames(m.matched)}); freezing applies to trainable variables`,
        'select weights (…/w, …/b, bn_/gamma, bn_/beta); the batch-norm statistics of a frozen layer are frozen with it', m.matched));
    }
  }
  return out;
}

/** `Net/scope` of every variable: the names a pattern can select whole layers by. */
function topScopes(network: readonly VariableSpec[]): string[] {
  return [...new Set(network.map((v) => v.name.split('/').slice(0, 2).join('/')))];
}

/**
 * A negative-lookahead pattern (`^((?!X).)*$`) that matches every candidate excludes nothing: usually because the
 * names it means to exclude are not the network's (the seed's `DenseVNet\/(skip_conv|fin_conv)`: no released
 * DenseVNet has those scopes). Says which of its words no variable has, and what the real scopes are.
 */
function checkExcludesNothing(ctx: StageContext, result: SelectionResult, make: Make): Problem[] {
  const out: Problem[] = [];
  const candidates = (m: PatternMatch) => (result.restorePatterns.includes(m) ? result.graph.length : ctx.network.length);
  const own = [...result.restorePatterns, ...(result.freezeMode === 'patterns' ? result.freezePatterns : [])];
  for (const m of own) {
    if (m.error || !m.pattern.includes('(?!') || m.matched.length < candidates(m)) continue;
    // The words it excludes by; a word some checkpoint variable has (`Adam`) excludes something there: no warning.
    const lookahead = m.pattern.slice(m.pattern.indexOf('(?!'));
    const words = [...new Set(lookahead.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])];
    const names = [...ctx.network, ...result.graph, ...(ctx.checkpoint ?? [])].map((v) => v.name);
    const absent = words.filter((w) => !names.some((n) => n.includes(w)));
    if (absent.length === 0) continue;
    const why = `no variable name contains ${absent.map((w) => `"${w}"`).join(' or ')}`;
    out.push(make('PatternExcludesNothing', m.field,
      `the pattern '${m.pattern}' matches all ${plural(candidates(m), 'variable')}, so it excludes nothing: ${why}; the network's layer scopes are ${topScopes(ctx.network).join(', ')}`,
      'name scopes that exist (list them with "thaw vars <checkpoint>"), e.g. exclude the final layer of the network'));
  }
  return out;
}

/** The first path segments of some names (`HighRes3DNet/`, `ApplyGradients/`), to say whose variables they are. */
function roots(names: readonly string[]): string {
  return [...new Set(names.map((n) => `${n.split('/')[0]}/`))].slice(0, 5).join(', ');
}

function checkMissing(ctx: StageContext, result: SelectionResult, make: Make): Problem[] {
  if (result.missing.length === 0) return [];
  const inCheckpoint = new Set((ctx.checkpoint ?? []).map((v) => v.name));
  if (inCheckpoint.size > 0 && !ctx.network.some((v) => inCheckpoint.has(v.name))) {
    return [make('ForeignCheckpoint', `stages[${ctx.stageIndex}].vars_to_restore`,
      `${sourceText(ctx.source)} holds none of the network's ${plural(ctx.network.length, 'variable')}: it was written by another network ` +
      `(its variables are under ${roots([...inCheckpoint])}; the network's under ${roots(ctx.network.map((v) => v.name))})`,
      'set network.name and network.params to the network that wrote the checkpoint, or start from scratch with starting_iter: 0',
      result.missing)];
  }
  const optimizer = ctx.stage.settings.optimizer;
  const networkNames = new Set(ctx.network.map((v) => v.name));
  const slots = result.missing.filter((n) => {
    const slot = slotOf(n, optimizer);
    return slot !== null && networkNames.has(slot[0]);
  });
  const others = result.missing.filter((n) => !slots.includes(n));
  const out: Problem[] = [];
  const restoreField = `stages[${ctx.stageIndex}].vars_to_restore`;
  if (slots.length > 0) {
    const owners = [...new Set(slots.map((n) => slotOf(n, optimizer)![0]))];
    const suffix = perVariableSlotSuffixes(optimizer)[0];
    const cause =
      ctx.source.kind === 'parent'
        ? `stage "${ctx.source.stage}" froze ${listNames(owners)} (its vars_to_freeze), and TensorFlow creates optimizer slots only for trained variables`
        : `the run that wrote it did not train ${listNames(owners)} (they were frozen there), and TensorFlow creates optimizer slots only for trained variables`;
    const alternative = ctx.source.kind === 'parent' ? ', or leave vars_to_restore out: thaw then restores what the parent saved and initialises the missing slots' : '';
    out.push(make('MissingOptimizerSlots', restoreField,
      `restores ${plural(slots.length, 'optimizer slot')} that ${sourceText(ctx.source)} does not hold (${listNames(slots)}): ${cause}`,
      `restore everything except the optimizer slots with vars_to_restore: '^((?!(${suffix})).)*$' (the slots then start from zero)${alternative}`, slots));
  }
  if (others.length > 0) {
    out.push(make('MissingInCheckpoint', restoreField,
      `restores ${plural(others.length, 'variable')} that ${sourceText(ctx.source)} does not hold: ${listNames(others)}`,
      'restore only variables the checkpoint holds (list them with "thaw vars <checkpoint>"), or start from scratch with starting_iter: 0', others));
  }
  return out;
}

function nothingToTrain(result: SelectionResult, trainable: number, make: Make, field: (n: string) => string): Problem {
  if (result.freezeMode === 'restore_patterns') {
    const patterns = result.freezePatterns.map((m) => `'${m.pattern}'`).join(', ');
    return make('NothingToTrain', field('vars_to_freeze'),
      `the stage trains nothing: without vars_to_freeze, a first stage freezes what vars_to_restore selects (the seed's rule), and ${patterns} selects all ${plural(trainable, 'trainable variable')} (the NiftyNet #335 trap)`,
      'add vars_to_freeze naming what to keep fixed, or vars_to_freeze: [] to train everything that is restored');
  }
  return make('NothingToTrain', field('vars_to_freeze'), `the stage trains nothing: vars_to_freeze selects all ${plural(trainable, 'trainable variable')}`,
    'freeze fewer variables so that the stage trains something');
}

function checkContradictions(ctx: StageContext, result: SelectionResult, make: Make, field: (n: string) => string): Problem[] {
  const out: Problem[] = [];
  const restored = new Set(result.selection.restored);
  // Re-initialising what the parent trained is how a new head starts on new data; on the same data it undoes training.
  if (ctx.source.kind === 'parent' && JSON.stringify(ctx.source.data) === JSON.stringify(ctx.stage.data)) {
    const discarded = ctx.network.filter((v) => v.trainable && ctx.earlierTrained.has(v.name) && !restored.has(v.name)).map((v) => v.name);
    if (discarded.length > 0) {
      const stages = [...new Set(discarded.map((n) => ctx.earlierTrained.get(n)!))].map((s) => `"${s}"`).join(', ');
      out.push(make('DiscardsEarlierTraining', field('vars_to_restore'),
        `does not restore ${plural(discarded.length, 'variable')} that stage ${stages} trained on the same data, so they start from random values again: ${listNames(discarded)}`,
        'restore them too (leave vars_to_restore out to restore everything the parent saved)', discarded));
    }
  }
  const trainable = new Set(ctx.network.filter((v) => v.trainable).map((v) => v.name));
  const frozenRandom = result.selection.frozen.filter((n) => trainable.has(n) && !restored.has(n));
  if (frozenRandom.length > 0) {
    out.push(make('FreezesInitialised', field('vars_to_freeze'),
      `freezes ${plural(frozenRandom.length, 'variable')} that start from random values (they are not restored): ${listNames(frozenRandom)}`,
      'restore them from a checkpoint first, or do not freeze them', frozenRandom));
  }
  return out;
}
