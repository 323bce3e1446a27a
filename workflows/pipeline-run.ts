/**
 * When things happen in a pipeline run: preflight, then the stages in DAG order (siblings concurrently), each stage's
 * training in its own cancellation scope (a pause stops it, a resume starts it again from its checkpoint), edits
 * checked by preflight, the loss curve at the end, and continue-as-new between stages when the history grows long.
 * What each step means for the run's state is PipelineRunState's (run-state.ts).
 *
 * Deterministic workflow code: no I/O and no Node built-ins (Date.now is the workflow's clock).
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { FAILURE_TYPES, type PipelineInput, type PipelineResult, type PipelineStatus, type PlanCheck, type StageEdit } from '../contract';
import type { StagePlan } from '../lib/pipeline/plan';
import { activitiesFor, type PipelineActivities } from './activity-stubs';
import { applyEdit } from './edits';
import { failureText, problemText } from './failure-text';
import { PipelineRunState } from './run-state';
import { pipelineStatus } from './status';

/** Runs cancelled before this change ended without waiting for their stages; replaying them must not wait either. */
const PATCH_CANCEL_WAITS_FOR_STAGES = 'cancel-waits-for-stages';

export class PipelineRun {
  readonly state: PipelineRunState;
  private readonly scopes = new Map<string, CancellationScope>();
  private readonly activities: PipelineActivities;

  constructor(private readonly input: PipelineInput) {
    this.activities = activitiesFor(input);
    this.state = new PipelineRunState(input);
  }

  status(): PipelineStatus {
    return pipelineStatus(this.state);
  }

  async execute(): Promise<PipelineResult> {
    const report = this.state.report ?? (await this.activities.cpu.preflight(this.state.plan));
    if (!this.state.preflightChecked(report)) throw preflightRefused(`the pipeline ${this.state.plan.source_file}`, report);
    let finished = false;
    const all = Promise.all(this.state.roots().map((s) => this.runLineage(s))).then(() => {
      finished = true;
    });
    try {
      await Promise.race([all, condition(() => this.mustContinueAsNew() && this.state.count('running') === 0)]);
    } catch (err) {
      if (isCancellation(err)) await this.finishAfterCancel();
      throw err;
    }
    if (!finished) {
      await condition(allHandlersFinished);
      return continueAsNew<(input: PipelineInput) => Promise<PipelineResult>>({
        ...this.input,
        plan: this.state.plan,
        carried: this.state.carried(),
      });
    }
    return this.finish();
  }

  /** The pause update: running stages checkpoint and stop; returns once they have. */
  async pause(): Promise<PipelineStatus> {
    this.state.pause();
    for (const scope of this.scopes.values()) scope.cancel();
    await condition(() => this.state.count('running') === 0);
    return this.status();
  }

  resume(): PipelineStatus {
    this.state.resume();
    return this.status();
  }

  /** The editStage update: the edited plan replaces the plan once preflight accepts it. */
  async edit(edit: StageEdit): Promise<PipelineStatus> {
    await condition(() => !this.state.editing);
    this.state.validateEdit(edit);
    this.state.beginEdit();
    try {
      const candidate = applyEdit(this.state.plan, edit);
      const report = await this.activities.cpu.preflight(candidate);
      if (!report.ok) throw preflightRefused(`the change of stage ${edit.stage}`, report);
      this.state.acceptEdit(edit, candidate, report);
      return this.status();
    } finally {
      this.state.endEdit();
    }
  }

  private mustContinueAsNew(): boolean {
    const info = workflowInfo();
    const limit = this.input.options?.continueAsNewAfterEvents;
    return info.continueAsNewSuggested || (limit !== undefined && info.historyLength >= limit);
  }

  /** A stage, then its children in parallel; a failed stage skips its descendants but not its siblings. */
  private async runLineage(stage: StagePlan): Promise<void> {
    if (!(await this.runStage(stage))) {
      this.state.skipDescendants(stage.name);
      return;
    }
    await Promise.all(this.state.children(stage.name).map((c) => this.runLineage(c)));
  }

  /** Runs one stage to its end (through pauses); false when it failed for good. Workflow cancellation propagates. */
  private async runStage(stage: StagePlan): Promise<boolean> {
    const ended = this.state.ended(stage.name);
    if (ended !== undefined) return ended;
    for (;;) {
      await condition(() => this.state.mayStartStages() && !this.mustContinueAsNew());
      this.state.startAttempt(stage.name, Date.now());
      const request = this.state.request(stage.name);
      if (!request) {
        throw ApplicationFailure.nonRetryable(`preflight did not report stage ${stage.name}`, FAILURE_TYPES.preflightIncomplete);
      }
      const scope = new CancellationScope();
      this.scopes.set(stage.name, scope);
      try {
        const result = await scope.run(() => this.activities.gpu.trainStage(request));
        this.state.stageDone(stage.name, request, result, Date.now());
        return true;
      } catch (err) {
        if (isCancellation(err)) {
          if (this.state.stageStopped(stage.name, CancellationScope.current().consideredCancelled) === 'paused') continue;
          throw err;
        }
        const error = failureText(err);
        this.state.stageFailed(stage.name, error);
        log.error('stage failed', { stage: stage.name, error });
        return false;
      } finally {
        this.scopes.delete(stage.name);
      }
    }
  }

  private async finish(): Promise<PipelineResult> {
    this.state.enter('finishing');
    await this.writeLossCurve();
    const failed = this.state.failedStages();
    const summaries = this.state.summaries();
    if (failed.length > 0) {
      this.state.enter('failed');
      const lines = failed.map((s) => `stage ${s.name}: ${this.state.stage(s.name).error}`);
      throw ApplicationFailure.nonRetryable(`pipeline ${this.state.plan.name} failed:\n  ${lines.join('\n  ')}`, FAILURE_TYPES.stageFailed, summaries);
    }
    this.state.enter('completed');
    const plan = this.state.plan;
    return { name: plan.name, modelDir: plan.model_dir, stages: summaries, lossCurve: this.state.lossCurve };
  }

  /**
   * The cancellation reaches every scope at once, and the race in execute() rejects before the trainings have
   * stopped. Running stages write a checkpoint at their iteration before they confirm: the run ends only once they
   * have, so that a run started right after it resumes from those checkpoints (and never trains beside the old one).
   */
  private async finishAfterCancel(): Promise<void> {
    this.state.enter('cancelled');
    await CancellationScope.nonCancellable(async () => {
      if (patched(PATCH_CANCEL_WAITS_FOR_STAGES)) await condition(() => this.state.count('running') === 0);
      await this.writeLossCurve();
    });
  }

  /** The loss curve is a convenience: failing to draw it does not fail the pipeline. */
  private async writeLossCurve(): Promise<void> {
    const plan = this.state.plan;
    try {
      const file = await this.activities.finish.finishPipeline({
        modelDir: plan.model_dir,
        stages: plan.stages.map((s) => ({ name: s.name, checkpointDir: s.checkpoint_dir })),
      });
      this.state.lossCurveWritten(file);
    } catch (err) {
      log.warn('could not write the loss curve', { error: failureText(err) });
    }
  }
}

function preflightRefused(what: string, report: PlanCheck): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `preflight refused ${what}:\n  ${report.errors.map(problemText).join('\n  ')}`,
    FAILURE_TYPES.preflightRefused,
    report.errors,
  );
}
