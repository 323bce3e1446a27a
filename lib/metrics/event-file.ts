/**
 * A TensorBoard event file writer for scalar curves: `events.out.tfevents.<unix time>.<host>` in a run folder,
 * file_version first. A resumed stage starts a new file whose first event after file_version is a SessionLog START
 * at the resumed step: TensorBoard then discards the older files' events at or after that step, so curves show no
 * duplicated iterations.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppendFile } from './append-file';
import { encodeEvent, EVENT_FILE_VERSION, SESSION_START, type EventMessage } from './event-proto';
import { frameRecord } from './tfrecord';

const wallTime = () => Date.now() / 1000;

export class EventFileWriter {
  private readonly out: AppendFile;

  constructor(runDir: string, resumeFromStep: number) {
    mkdirSync(runDir, { recursive: true });
    const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
    // TensorBoard reads a run's files in name order: a resumed stage's file must sort after the earlier ones, even
    // when it starts within the same second or on a host whose clock is behind.
    const earlier = readdirSync(runDir).map((n) => /^events\.out\.tfevents\.(\d+)\./.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]));
    const time = Math.max(Math.floor(Date.now() / 1000), ...earlier.map((t) => t + 1));
    this.out = new AppendFile(path.join(runDir, `events.out.tfevents.${time}.${host}`), 'wx');
    this.write({ wallTime: wallTime(), fileVersion: EVENT_FILE_VERSION });
    if (resumeFromStep > 0) this.write({ wallTime: wallTime(), step: resumeFromStep, sessionLog: { status: SESSION_START } });
  }

  get file(): string {
    return this.out.file;
  }

  private write(event: EventMessage): void {
    this.out.write(frameRecord(encodeEvent(event)));
  }

  /** Scalar summaries (tag → value) at one step, in one event. */
  scalars(step: number, values: Record<string, number>): void {
    this.write({ wallTime: wallTime(), step, summary: { value: Object.entries(values).map(([tag, simpleValue]) => ({ tag, simpleValue })) } });
  }

  flush(): void {
    this.out.flush();
  }

  close(): void {
    this.out.close();
  }
}
