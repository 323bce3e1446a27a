/**
 * runPipeline: preflight, then the stages of a Plan in DAG order (siblings concurrently, each lineage in its own
 * checkpoint folder), surviving worker deaths (retries resume from the stage's newest checkpoint), pauses, edits of
 * stages not yet started, and long histories (continue-as-new between stages, carrying what is done).
 *
 * Deterministic workflow code: no I/O and no Node built-ins; paths are handled as plain strings.
 */
import {
  ActivityCancellationType,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan, StagePlan } from '../lib/pipeline/plan';
import type { PlanCheck } from '../activities/preflight';
import type { ThawActivities, TrainStageRequest } from '../activities';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  DEFAULT_TASK_QUEUES,
  editStageUpdate,
  pauseUpdate,
  progressSignal,
  resumeUpdate,
  statusQuery,
} from './definitions';
import { applyEdit, validateEdit } from './edits';
import { pipelineEtaSeconds, stageEtaSeconds } from './eta';
import type {
  CarriedStage,
  PipelineInput,
  PipelineResult,
  PipelineState,
  PipelineStatus,
  StageEdit,
  StageStatus,
  StageSummary,
} from './types';

export async function runPipeline(input: PipelineInput): Promise<PipelineResult> {
  return new PipelineRun(input).execute();
}

function activitiesFor(input: PipelineInput) {
  const o = input.options ?? {};
  const cpu = proxyActivities<ThawActivities>({
    taskQueue: o.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    startToCloseTimeout: '10 minutes',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  const gpu = proxyActivities<ThawActivities>({
    taskQueue: o.gpuTaskQueue ?? DEFAULT_TASK_QUEUES.gpu,
    heartbeatTimeout: `${o.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS}s`,
    startToCloseTimeout: `${o.stageTimeoutHours ?? 7 * 24}h`,
    // Wait for the activity to confirm: on pause or cancel it writes a checkpoint first.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // User errors arrive as non-retryable ApplicationFailures; everything else is infrastructure and retried.
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  // The loss curve is a convenience at the end of a run, and of a cancelled one: bounded in time and attempts, so that
  // it can neither keep a run from ending nor a cancellation from taking effect (no cpu worker, a slow disk).
  const finish = proxyActivities<ThawActivities>({
    taskQueue: o.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    startToCloseTimeout: '1 minute',
    scheduleToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
  });
  return { cpu, gpu, finish };
}

function dirname(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}

function seconds(fromMs: number, toMs: number): number {
  return Math.round((toMs - fromMs) / 10) / 100;
}

function freshStage(): CarriedStage {
  return { state: 'pending', attempts: 0, firstStartedAt: null, summary: null, error: null, last: null };
}

class PipelineRun {
  private plan: Plan;
  private report: PlanCheck | null;
  private readonly stages = new Map<string, CarriedStage>();
  private readonly scopes = new Map<string, CancellationScope>();
  private readonly edits: StageEdit[];
  private paused: boolean;
  private editing = false;
  private state: PipelineState = 'preflight';
  private lossCurve: string | null = null;
  private readonly continuedAsNew: number;
  private readonly activities: ReturnType<typeof activitiesFor>;

  constructor(private readonly input: PipelineInput) {
    this.plan = input.plan;
    this.report = input.carried?.report ?? null;
    this.edits = [...(input.carried?.edits ?? [])];
    this.paused = input.carried?.paused ?? false;
    this.continuedAsNew = input.carried?.continuedAsNew ?? 0;
    this.activities = activitiesFor(input);
    for (const s of this.plan.stages) {
      const carried = input.carried?.stages[s.name];
      // A stage that was running when the previous run continued as new simply starts again (from its checkpoint).
      this.stages.set(s.name, carried ? { ...carried, state: carried.state === 'running' ? 'pending' : carried.state } : freshStage());
    }
    this.installHandlers();
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => this.status());
    setHandler(progressSignal, (p) => {
      const s = this.stages.get(p.stage);
      if (s && s.state === 'running' && p.attempt >= (s.last?.attempt ?? 0)) s.last = p;
    });
    setHandler(pauseUpdate, async () => {
      this.paused = true;
      for (const scope of this.scopes.values()) scope.cancel();
      await condition(() => this.count('running') === 0);
      return this.status();
    });
    setHandler(resumeUpdate, () => {
      this.paused = false;
      return this.status();
    });
    setHandler(editStageUpdate, (edit) => this.edit(edit), {
      validator: (edit) => validateEdit(this.plan, (name) => this.stages.get(name)?.state, edit),
    });
  }

  async execute(): Promise<PipelineResult> {
    const report = this.report ?? (await this.activities.cpu.preflight(this.plan));
    this.report = report;
    if (!report.ok) {
      this.state = 'refused';
      throw ApplicationFailure.nonRetryable(
        `preflight refused the pipeline ${this.plan.source_file}:\n  ${report.errors.map(problemText).join('\n  ')}`,
        'PreflightRefused',
        report.errors,
      );
    }
    this.state = 'running';
    let finished = false;
    const all = Promise.all(this.roots().map((s) => this.runLineage(s))).then(() => {
      finished = true;
    });
    try {
      await Promise.race([all, condition(() => this.mustContinueAsNew() && this.count('running') === 0)]);
    } catch (err) {
      if (isCancellation(err)) await this.finishAfterCancel();
      throw err;
    }
    if (!finished) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof runPipeline>({ ...this.input, plan: this.plan, carried: this.carried() });
    }
    return this.finish();
  }

  private roots(): StagePlan[] {
    return this.plan.stages.filter((s) => s.after === null);
  }

  private children(name: string): StagePlan[] {
    return this.plan.stages.filter((s) => s.after === name);
  }

  private stagePlan(name: string): StagePlan {
    return this.plan.stages.find((s) => s.name === name)!;
  }

  private count(state: CarriedStage['state']): number {
    return [...this.stages.values()].filter((s) => s.state === state).length;
  }

  private mustContinueAsNew(): boolean {
    const info = workflowInfo();
    const limit = this.input.options?.continueAsNewAfterEvents;
    return info.continueAsNewSuggested || (limit !== undefined && info.historyLength >= limit);
  }

  /** A stage, then its children in parallel; a failed stage skips its descendants but not its siblings. */
  private async runLineage(stage: StagePlan): Promise<void> {
    if (!(await this.runStage(stage))) {
      this.skipDescendants(stage.name);
      return;
    }
    await Promise.all(this.children(stage.name).map((c) => this.runLineage(c)));
  }

  private skipDescendants(name: string): void {
    for (const c of this.children(name)) {
      const s = this.stages.get(c.name)!;
      if (s.state === 'pending') s.state = 'skipped';
      this.skipDescendants(c.name);
    }
  }

  /** Runs one stage to its end (through pauses); false when it failed for good. Workflow cancellation propagates. */
  private async runStage(stage: StagePlan): Promise<boolean> {
    const s = this.stages.get(stage.name)!;
    if (s.state === 'done') return true;
    if (s.state === 'failed' || s.state === 'skipped') return false;
    for (;;) {
      await condition(() => !this.paused && !this.editing && !this.mustContinueAsNew());
      s.state = 'running';
      s.attempts++;
      s.firstStartedAt ??= Date.now();
      const request = this.request(stage);
      const scope = new CancellationScope();
      this.scopes.set(stage.name, scope);
      try {
        const result = await scope.run(() => this.activities.gpu.trainStage(request));
        s.summary = {
          stage: stage.name,
          startIteration: request.startIteration,
          endIteration: result.endIteration,
          iterations: result.endIteration - request.startIteration,
          finalLoss: result.finalLoss,
          checkpoint: result.checkpoint,
          backend: result.backend,
          trainSeconds: result.trainSeconds,
          wallSeconds: seconds(s.firstStartedAt, Date.now()),
          // Earlier calls ended in a pause; the last call may have needed several attempts (a worker died).
          attempts: s.attempts - 1 + result.attempt,
          resumedFrom: result.resumedFrom,
        };
        s.state = 'done';
        return true;
      } catch (err) {
        if (isCancellation(err) && this.paused && !CancellationScope.current().consideredCancelled) {
          s.state = 'paused';
          continue;
        }
        if (isCancellation(err)) {
          s.state = 'cancelled';
          throw err;
        }
        s.state = 'failed';
        s.error = failureText(err);
        log.error('stage failed', { stage: stage.name, error: s.error });
        return false;
      } finally {
        this.scopes.delete(stage.name);
      }
    }
  }

  /** The training request of a stage: a root starts where preflight resolved, a child from its parent's result. */
  private request(stage: StagePlan): TrainStageRequest {
    const checked = this.report!.stages.find((r) => r.name === stage.name);
    if (!checked) throw ApplicationFailure.nonRetryable(`preflight did not report stage ${stage.name}`, 'PreflightIncomplete');
    const parent = stage.after === null ? null : this.stages.get(stage.after)!.summary!;
    const startIteration = parent ? parent.endIteration : checked.startIteration;
    const restoreFrom = parent ? parent.checkpoint : checked.restoreFrom;
    return {
      modelDir: stage.checkpoint_dir ?? this.plan.model_dir,
      restoreFrom,
      stage: stage.name,
      startIteration,
      endIteration: startIteration + stage.iterations,
      selection: checked.selection,
      network: this.plan.network,
      data: stage.data,
      settings: stage.settings,
      seed: this.plan.seed,
      backend: this.plan.backend,
      pipelineHash: this.plan.hash,
      baseDir: dirname(this.plan.source_file),
      keepCheckpoints: this.keptIterations(stage, restoreFrom ? startIteration : null),
    };
  }

  /** Retention must keep the final checkpoint of every earlier stage in this folder, and the one we restore from. */
  private keptIterations(stage: StagePlan, restoredIteration: number | null): number[] {
    const folder = stage.checkpoint_dir ?? this.plan.model_dir;
    const kept = restoredIteration === null ? [] : [restoredIteration];
    for (const s of this.plan.stages) {
      const summary = this.stages.get(s.name)!.summary;
      if (summary && (s.checkpoint_dir ?? this.plan.model_dir) === folder) kept.push(summary.endIteration);
    }
    return [...new Set(kept)].sort((a, b) => a - b);
  }

  private async edit(edit: StageEdit): Promise<PipelineStatus> {
    await condition(() => !this.editing);
    validateEdit(this.plan, (name) => this.stages.get(name)?.state, edit);
    this.editing = true;
    try {
      const candidate = applyEdit(this.plan, edit);
      const report = await this.activities.cpu.preflight(candidate);
      if (!report.ok) {
        throw ApplicationFailure.nonRetryable(
          `preflight refused the change of stage ${edit.stage}:\n  ${report.errors.map(problemText).join('\n  ')}`,
          'PreflightRefused',
          report.errors,
        );
      }
      // Stages that already started keep what they were started with.
      const started = new Set([...this.stages].filter(([, s]) => s.state !== 'pending').map(([n]) => n));
      const previous = this.report!;
      this.plan = candidate;
      this.report = {
        ...report,
        stages: report.stages.map((r) => (started.has(r.name) ? previous.stages.find((p) => p.name === r.name) ?? r : r)),
      };
      this.edits.push(edit);
      return this.status();
    } finally {
      this.editing = false;
    }
  }

  private async finish(): Promise<PipelineResult> {
    this.state = 'finishing';
    await this.writeLossCurve();
    const failed = this.plan.stages.filter((s) => this.stages.get(s.name)!.state === 'failed');
    const summaries = this.plan.stages.map((s) => this.stages.get(s.name)!.summary).filter((x): x is StageSummary => x !== null);
    if (failed.length > 0) {
      this.state = 'failed';
      const lines = failed.map((s) => `stage ${s.name}: ${this.stages.get(s.name)!.error}`);
      throw ApplicationFailure.nonRetryable(`pipeline ${this.plan.name} failed:\n  ${lines.join('\n  ')}`, 'StageFailed', summaries);
    }
    this.state = 'completed';
    return { name: this.plan.name, modelDir: this.plan.model_dir, stages: summaries, lossCurve: this.lossCurve };
  }

  private async finishAfterCancel(): Promise<void> {
    this.state = 'cancelled';
    await CancellationScope.nonCancellable(() => this.writeLossCurve());
  }

  /** The loss curve is a convenience: failing to draw it does not fail the pipeline. */
  private async writeLossCurve(): Promise<void> {
    try {
      this.lossCurve = await this.activities.finish.finishPipeline({
        modelDir: this.plan.model_dir,
        stages: this.plan.stages.map((s) => ({ name: s.name, checkpointDir: s.checkpoint_dir ?? this.plan.model_dir })),
      });
    } catch (err) {
      log.warn('could not write the loss curve', { error: failureText(err) });
    }
  }

  private carried() {
    return {
      stages: Object.fromEntries(this.stages),
      report: this.report!,
      edits: this.edits,
      paused: this.paused,
      continuedAsNew: this.continuedAsNew + 1,
    };
  }

  private status(): PipelineStatus {
    const speeds = [...this.stages.values()].filter((s) => s.state === 'running' && s.last).map((s) => s.last!.itPerSec);
    const speed = speeds.length > 0 ? speeds.reduce((a, b) => a + b, 0) / speeds.length : null;
    const stages = this.plan.stages.map((p) => this.stageStatus(p));
    const byName = new Map(stages.map((s) => [s.name, s]));
    const state: PipelineState = this.state === 'running' && this.paused ? 'paused' : this.state;
    return {
      name: this.plan.name,
      modelDir: this.plan.model_dir,
      hash: this.plan.hash,
      state,
      stages,
      etaSeconds: pipelineEtaSeconds(this.plan.stages, (name) => remainingOf(byName.get(name)!, this.stagePlan(name)), speed),
      warnings: (this.report?.warnings ?? []).map(problemText),
      errors: (this.report?.errors ?? []).map(problemText),
      edits: this.edits,
      continuedAsNew: this.continuedAsNew,
      lossCurve: this.lossCurve,
    };
  }

  private stageStatus(p: StagePlan): StageStatus {
    const s = this.stages.get(p.name)!;
    const checked = this.report?.stages.find((r) => r.name === p.name);
    const parent = p.after === null ? null : this.stages.get(p.after)!.summary;
    const start = s.summary?.startIteration ?? parent?.endIteration ?? (p.after === null ? checked?.startIteration : undefined) ?? null;
    const end = start === null ? null : start + p.iterations;
    const iteration = s.summary?.endIteration ?? s.last?.iteration ?? null;
    const live = s.state === 'running' ? s.last : null;
    return {
      name: p.name,
      after: p.after,
      state: s.state,
      iterations: p.iterations,
      checkpointDir: p.checkpoint_dir ?? this.plan.model_dir,
      startIteration: start,
      endIteration: end,
      iteration,
      loss: s.summary?.finalLoss ?? s.last?.loss ?? null,
      itPerSec: live?.itPerSec ?? null,
      etaSeconds: live && end !== null ? stageEtaSeconds(end - live.iteration, live.itPerSec) : null,
      checkpoint: s.summary?.checkpoint ?? s.last?.checkpoint ?? null,
      attempts: s.attempts,
      summary: s.summary,
      error: s.error,
    };
  }
}

function remainingOf(status: StageStatus, plan: StagePlan): { done: boolean; remaining: number } {
  if (status.state === 'done') return { done: true, remaining: 0 };
  if (status.endIteration !== null && status.iteration !== null) return { done: false, remaining: status.endIteration - status.iteration };
  return { done: false, remaining: plan.iterations };
}

function problemText(p: { message: string; stage?: string; field?: string }): string {
  return p.message;
}

/** The innermost message of a failure chain (ActivityFailure → ApplicationFailure → ...), with the first type on it. */
function failureText(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; type?: string | null } | undefined;
  let type: string | undefined;
  while (e) {
    type ??= e.type ?? undefined;
    if (!e.cause) break;
    e = e.cause as typeof e;
  }
  return type ? `${type}: ${e?.message}` : e?.message ?? String(err);
}
