/**
 * The state a pipeline run keeps, and every change to it: the stage state machine (pending → running → done, or
 * paused, failed, skipped, cancelled), pause and resume, edits of stages not yet started, what each stage is started
 * with (its training request, with the checkpoints retention must keep) and what continues as new. Plain TypeScript
 * with no Temporal imports: the workflow (pipeline-run.ts) decides when things happen, this decides what they mean,
 * and unit tests drive it directly. Times come in as arguments so that it stays deterministic.
 */
import type {
  CarriedStage,
  CarriedState,
  PipelineInput,
  PipelineState,
  PlanCheck,
  ProgressReport,
  StageEdit,
  StageState,
  StageSummary,
  TrainStageRequest,
  TrainStageResult,
} from '../contract';
import { childrenOf, roots } from '../lib/pipeline/dag';
import type { Plan, StagePlan } from '../lib/pipeline/plan';
import { validateEdit } from './edits';

function freshStage(): CarriedStage {
  return { state: 'pending', attempts: 0, firstStartedAt: null, summary: null, error: null, last: null };
}

function dirname(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}

function seconds(fromMs: number, toMs: number): number {
  return Math.round((toMs - fromMs) / 10) / 100;
}

export class PipelineRunState {
  private currentPlan: Plan;
  private currentReport: PlanCheck | null;
  private readonly byName = new Map<string, CarriedStage>();
  private readonly acceptedEdits: StageEdit[];
  private pauseRequested: boolean;
  private editInProgress = false;
  private runState: PipelineState = 'preflight';
  private lossCurveFile: string | null = null;
  readonly continuedAsNew: number;

  constructor(input: PipelineInput) {
    this.currentPlan = input.plan;
    this.currentReport = input.carried?.report ?? null;
    this.acceptedEdits = [...(input.carried?.edits ?? [])];
    this.pauseRequested = input.carried?.paused ?? false;
    this.continuedAsNew = input.carried?.continuedAsNew ?? 0;
    for (const s of this.currentPlan.stages) {
      const carried = input.carried?.stages[s.name];
      // A stage that was running when the previous run continued as new simply starts again (from its checkpoint).
      this.byName.set(s.name, carried ? { ...carried, state: carried.state === 'running' ? 'pending' : carried.state } : freshStage());
    }
  }

  get plan(): Plan {
    return this.currentPlan;
  }

  /** Preflight's report: null until preflight has run. */
  get report(): PlanCheck | null {
    return this.currentReport;
  }

  /** Every stage's state, in plan order. */
  get stages(): ReadonlyMap<string, Readonly<CarriedStage>> {
    return this.byName;
  }

  get edits(): readonly StageEdit[] {
    return this.acceptedEdits;
  }

  get paused(): boolean {
    return this.pauseRequested;
  }

  get state(): PipelineState {
    return this.runState;
  }

  get lossCurve(): string | null {
    return this.lossCurveFile;
  }

  stage(name: string): Readonly<CarriedStage> {
    return this.byName.get(name)!;
  }

  stagePlan(name: string): StagePlan {
    return this.currentPlan.stages.find((s) => s.name === name)!;
  }

  roots(): StagePlan[] {
    return roots(this.currentPlan.stages);
  }

  children(name: string): StagePlan[] {
    return childrenOf(this.currentPlan.stages, name);
  }

  count(state: StageState): number {
    return [...this.byName.values()].filter((s) => s.state === state).length;
  }

  /** New attempts wait while the run is paused or an edit is being checked (it may change the stage). */
  mayStartStages(): boolean {
    return !this.pauseRequested && !this.editInProgress;
  }

  /** Keeps the latest report of a running stage; reports of an older attempt (a worker presumed dead) are ignored. */
  recordProgress(p: ProgressReport): void {
    const s = this.byName.get(p.stage);
    if (s && s.state === 'running' && p.attempt >= (s.last?.attempt ?? 0)) s.last = p;
  }

  /** Records preflight's report; false when it refused the pipeline (the run then ends refused). */
  preflightChecked(report: PlanCheck): boolean {
    this.currentReport = report;
    this.runState = report.ok ? 'running' : 'refused';
    return report.ok;
  }

  /** How a stage ended, when it has (carried over continue-as-new): true when done, false when failed or skipped. */
  ended(name: string): boolean | undefined {
    const state = this.stage(name).state;
    if (state === 'done') return true;
    if (state === 'failed' || state === 'skipped') return false;
    return undefined;
  }

  /** A new attempt of a stage starts: the first one also starts the stage's wall clock. */
  startAttempt(name: string, nowMs: number): void {
    const s = this.byName.get(name)!;
    s.state = 'running';
    s.attempts++;
    s.firstStartedAt ??= nowMs;
  }

  /**
   * The training request of a stage: a root starts where preflight resolved, a child from its parent's result.
   * null when preflight's report lacks the stage.
   */
  request(name: string): TrainStageRequest | null {
    const stage = this.stagePlan(name);
    const checked = this.currentReport!.stages.find((r) => r.name === name);
    if (!checked) return null;
    const parent = stage.after === null ? null : this.byName.get(stage.after)!.summary!;
    const startIteration = parent ? parent.endIteration : checked.startIteration;
    const restoreFrom = parent ? parent.checkpoint : checked.restoreFrom;
    return {
      modelDir: stage.checkpoint_dir,
      restoreFrom,
      stage: name,
      startIteration,
      endIteration: startIteration + stage.iterations,
      selection: checked.selection,
      network: this.currentPlan.network,
      data: stage.data,
      settings: stage.settings,
      seed: this.currentPlan.seed,
      backend: this.currentPlan.backend,
      pipelineHash: this.currentPlan.hash,
      baseDir: dirname(this.currentPlan.source_file),
      keepCheckpoints: this.keptIterations(stage, restoreFrom ? startIteration : null),
    };
  }

  /** Retention must keep the final checkpoint of every earlier stage in this folder, and the one we restore from. */
  private keptIterations(stage: StagePlan, restoredIteration: number | null): number[] {
    const folder = stage.checkpoint_dir;
    const kept = restoredIteration === null ? [] : [restoredIteration];
    for (const s of this.currentPlan.stages) {
      const summary = this.byName.get(s.name)!.summary;
      if (summary && s.checkpoint_dir === folder) kept.push(summary.endIteration);
    }
    return [...new Set(kept)].sort((a, b) => a - b);
  }

  stageDone(name: string, request: TrainStageRequest, result: TrainStageResult, nowMs: number): void {
    const s = this.byName.get(name)!;
    s.summary = {
      stage: name,
      startIteration: request.startIteration,
      endIteration: result.endIteration,
      iterations: result.endIteration - request.startIteration,
      finalLoss: result.finalLoss,
      checkpoint: result.checkpoint,
      backend: result.backend,
      trainSeconds: result.trainSeconds,
      wallSeconds: seconds(s.firstStartedAt!, nowMs),
      // Earlier calls ended in a pause; the last call may have needed several attempts (a worker died).
      attempts: s.attempts - 1 + result.attempt,
      resumedFrom: result.resumedFrom,
    };
    s.state = 'done';
  }

  /**
   * A stage's training was cancelled: by a pause (it resumes later from its checkpoint) unless the whole run was
   * cancelled. Returns the stage's new state.
   */
  stageStopped(name: string, runCancelled: boolean): 'paused' | 'cancelled' {
    const s = this.byName.get(name)!;
    s.state = this.pauseRequested && !runCancelled ? 'paused' : 'cancelled';
    return s.state;
  }

  stageFailed(name: string, error: string): void {
    const s = this.byName.get(name)!;
    s.state = 'failed';
    s.error = error;
  }

  /** A failed stage's descendants never start; its siblings are not affected. */
  skipDescendants(name: string): void {
    for (const c of this.children(name)) {
      const s = this.byName.get(c.name)!;
      if (s.state === 'pending') s.state = 'skipped';
      this.skipDescendants(c.name);
    }
  }

  /** No new attempts start; the workflow stops the running ones, which then become paused (stageStopped). */
  pause(): void {
    this.pauseRequested = true;
  }

  resume(): void {
    this.pauseRequested = false;
  }

  /** Throws when the edit cannot apply (the update is then rejected before it is accepted). */
  validateEdit(edit: StageEdit): void {
    validateEdit(this.currentPlan, (name) => this.byName.get(name)?.state, edit);
  }

  get editing(): boolean {
    return this.editInProgress;
  }

  /** An edit is being checked by preflight: no stage starts meanwhile, and no other edit is checked. */
  beginEdit(): void {
    this.editInProgress = true;
  }

  endEdit(): void {
    this.editInProgress = false;
  }

  /** The edited plan, which preflight accepted, replaces the plan; stages already started keep what they started with. */
  acceptEdit(edit: StageEdit, candidate: Plan, report: PlanCheck): void {
    const started = new Set([...this.byName].filter(([, s]) => s.state !== 'pending').map(([n]) => n));
    const previous = this.currentReport!;
    this.currentPlan = candidate;
    this.currentReport = {
      ...report,
      stages: report.stages.map((r) => (started.has(r.name) ? previous.stages.find((p) => p.name === r.name) ?? r : r)),
    };
    this.acceptedEdits.push(edit);
  }

  /** The run ends: 'finishing' (the loss curve), then how it ended. */
  enter(state: 'finishing' | 'completed' | 'failed' | 'cancelled'): void {
    this.runState = state;
  }

  lossCurveWritten(file: string): void {
    this.lossCurveFile = file;
  }

  failedStages(): StagePlan[] {
    return this.currentPlan.stages.filter((s) => this.byName.get(s.name)!.state === 'failed');
  }

  /** Summaries of the stages that finished, in plan order. */
  summaries(): StageSummary[] {
    return this.currentPlan.stages.map((s) => this.byName.get(s.name)!.summary).filter((x): x is StageSummary => x !== null);
  }

  /** What the next run gets when this one continues as new. */
  carried(): CarriedState {
    return {
      stages: Object.fromEntries(this.byName),
      report: this.currentReport!,
      edits: this.acceptedEdits,
      paused: this.pauseRequested,
      continuedAsNew: this.continuedAsNew + 1,
    };
  }
}
