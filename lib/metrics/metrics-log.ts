/**
 * The trainer's metrics sink for one stage: every `log` call appends a JSON line and a TensorBoard event (written
 * through at once, so a killed process loses nothing already logged; `flush` also fsyncs).
 *
 * Iteration numbering is the caller's; the contract is only that on resume every entry with
 * iteration >= resumeFromIteration is removed from the stage's JSON lines and event files, because it will be logged
 * again. With "iteration = index of the batch the step trained on" (a checkpoint at global_step N has logged
 * iterations < N), resume from checkpoint N with resumeFromIteration = N.
 */
import { EventFileWriter } from './event-file';
import { LossLogWriter } from './loss-log';
import { eventDir } from './paths';

export interface MetricsLog {
  log(iteration: number, loss: number, itPerSec: number): void;
  flush(): void;
  close(): void;
}

/** `localRunsDir`: where an s3:// model_dir's local files go (settings.storage.localRunsDir). */
export function openMetricsLog(modelDir: string, stage: string, resumeFromIteration: number, localRunsDir?: string): MetricsLog {
  const jsonl = new LossLogWriter(modelDir, stage, resumeFromIteration, localRunsDir);
  const events = new EventFileWriter(eventDir(modelDir, stage, localRunsDir), resumeFromIteration);
  return {
    log(iteration, loss, itPerSec) {
      jsonl.append(iteration, loss, itPerSec);
      events.scalars(iteration, { loss, it_per_sec: itPerSec });
    },
    flush() {
      jsonl.flush();
      events.flush();
    },
    close() {
      jsonl.close();
      events.close();
    },
  };
}
