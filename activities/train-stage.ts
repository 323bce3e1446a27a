/**
 * trainStage (gpu task queue): runs one stage with the training engine. Heartbeats carry the latest progress and
 * checkpoint; a `progress` signal (through the worker's client) tells the workflow, which cannot read heartbeats, every
 * few seconds. On cancellation (pause, cancel, a heartbeat timeout) or worker shutdown (SIGTERM, preemption) the engine
 * is aborted, writes a checkpoint at the current iteration, and the attempt ends as cancelled; the next attempt
 * (on any worker) resumes from the stage's newest valid checkpoint. The stage holds the training lock of its checkpoint
 * folder while it trains (lib/storage/lock.ts): a second run on the same model_dir fails at once, naming the holder.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { progressSignal, type ProgressReport, type TrainStageRequest, type TrainStageResult } from '../contract';
import { defaultStorages, Storages } from '../lib/storage';
import { lockModelDir } from '../lib/storage/lock';
import type { ThawSettings } from '../lib/settings';
import { runStage } from '../lib/training';
import { DevicePool } from '../lib/training/devices';
import type { StageProgress, StageResult } from '../lib/training/types';
import { writingInto } from './failures';

export type { TrainStageRequest, TrainStageResult } from '../contract';

export interface TrainStageOptions {
  /**
   * Minimum time between two progress signals to the workflow (default 3 s). Long stages stretch it (up to a minute,
   * 1/200 of the time spent so far) so that a stage of days adds a few thousand history events, not a hundred thousand.
   */
  progressIntervalMs?: number;
  /** Where the trainer's log lines go (default: stderr). `thaw run` prints them above its progress bars. */
  onTrainingLog?: (line: string) => void;
  /** GPUs this worker's trainings share, one each (CUDA_VISIBLE_DEVICES of each training process); default: none. */
  devices?: readonly string[];
  /**
   * thaw's settings: the stage folder and its lock are opened on their storage, and every training process is sent them
   * (default: thaw's default storage settings here, and the training process reads its own environment).
   */
  settings?: ThawSettings;
}

export function makeTrainStage(options: TrainStageOptions = {}) {
  const interval = options.progressIntervalMs ?? 3000;
  const devices = new DevicePool(options.devices);
  // The stage folder and its lock are on the storage the training process opens from the same settings.
  const storages = options.settings ? new Storages(options.settings.storage) : defaultStorages();

  return async function trainStage(request: TrainStageRequest): Promise<TrainStageResult> {
    const ctx = Context.current();
    const reporter = new ProgressReporter(ctx, interval);
    const log = options.onTrainingLog ?? ((line: string) => process.stderr.write(`${line}\n`));
    const runId = ctx.info.workflowExecution?.workflowId ?? `activity-${ctx.info.activityId}`;
    // A stage folder that cannot take the lock or checkpoints (it became a file or read-only after preflight) is a
    // user error: checked once before anything is written, and again when a write fails.
    return writingInto(request.modelDir, async () => {
      await storages.for(request.modelDir).ensureDir(request.modelDir);
      const lock = await lockModelDir(request.modelDir, { runId, stage: request.stage }, { onWarning: log, storages });
      // Heartbeat on a timer too: a long step or a checkpoint write must not look like a dead worker.
      const beat = setInterval(() => ctx.heartbeat(reporter.latest), Math.max(250, heartbeatEveryMs(ctx)));
      const device = devices.lease();
      try {
        const result = await runStage(request, {
          onProgress: (p) => reporter.report(p), onLog: options.onTrainingLog, signal: ctx.cancellationSignal,
          env: device.env, settings: options.settings,
        });
        await reporter.flush(finalProgress(result));
        if (result.stopped) {
          const why = ctx.cancellationSignal.reason instanceof Error ? ctx.cancellationSignal.reason.message : 'cancelled';
          throw new CancelledFailure(`stage ${result.stage} stopped at iteration ${result.reachedIteration} (${why}); checkpoint ${result.checkpoint}`);
        }
        return { ...result, attempt: ctx.info.attempt };
      } finally {
        device.release();
        clearInterval(beat);
        await lock.release().catch((err: Error) => log(`thaw: could not release the training lock ${lock.file}: ${err.message}`));
      }
    });
  };
}

function finalProgress(result: StageResult): StageProgress {
  return { stage: result.stage, iteration: result.reachedIteration, loss: result.finalLoss ?? Number.NaN, itPerSec: 0, checkpoint: result.checkpoint };
}

function heartbeatEveryMs(ctx: Context): number {
  const timeout = ctx.info.heartbeatTimeoutMs ?? 30_000;
  return Math.min(5_000, timeout / 3);
}

/**
 * Heartbeats every progress event (the SDK throttles them) and signals the workflow now and then; the latest
 * checkpoint rides along with the next signal.
 */
class ProgressReporter {
  latest: StageProgress | undefined;
  private lastSent = 0;
  private readonly startedAt = Date.now();
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: Context,
    private readonly intervalMs: number,
  ) {}

  report(p: StageProgress): void {
    const latest = p.checkpoint || !this.latest ? p : { ...p, checkpoint: this.latest.checkpoint };
    this.latest = latest;
    this.ctx.heartbeat(latest);
    const now = Date.now();
    const interval = Math.min(60_000, Math.max(this.intervalMs, (now - this.startedAt) / 200));
    if (now - this.lastSent >= interval) {
      this.lastSent = now;
      this.send(latest);
    }
  }

  /** Sends a last report and waits for every report to be delivered (or given up on). */
  async flush(p: StageProgress): Promise<void> {
    this.latest = p;
    this.send(p);
    await this.sending;
  }

  private send(p: StageProgress): void {
    const report: ProgressReport = {
      stage: p.stage,
      iteration: p.iteration,
      loss: p.loss,
      itPerSec: p.itPerSec,
      checkpoint: p.checkpoint,
      attempt: this.ctx.info.attempt,
    };
    const workflowId = this.ctx.info.workflowExecution?.workflowId;
    if (!workflowId) return;
    // Progress is advisory: a lost signal must never fail the training.
    this.sending = this.sending.then(() =>
      this.ctx.client.workflow
        .getHandle(workflowId)
        .signal(progressSignal, report)
        .catch((err: Error) => this.ctx.log.warn('progress signal not delivered', { error: err.message })),
    );
  }
}
