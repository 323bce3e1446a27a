/**
 * A TensorBoard event file writer for scalar curves: `events.out.tfevents.<unix time>.<host>` in a run folder,
 * file_version first. A resumed stage starts a new file whose first event after file_version is a SessionLog START
 * at the resumed step: TensorBoard then discards the older files' events at or after that step, so curves show no
 * duplicated iterations.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeEvent, EVENT_FILE_VERSION, SESSION_START, type EventMessage } from './event-proto';
import { frameRecord } from './tfrecord';

const wallTime = () => Date.now() / 1000;

export class EventFileWriter {
  readonly file: string;
  private fd: number | null;

  constructor(runDir: string, resumeFromStep: number) {
    mkdirSync(runDir, { recursive: true });
    const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
    let time = Math.floor(Date.now() / 1000);
    while (existsSync(path.join(runDir, `events.out.tfevents.${time}.${host}`))) time++;
    this.file = path.join(runDir, `events.out.tfevents.${time}.${host}`);
    this.fd = openSync(this.file, 'wx');
    this.write({ wallTime: wallTime(), fileVersion: EVENT_FILE_VERSION });
    if (resumeFromStep > 0) this.write({ wallTime: wallTime(), step: resumeFromStep, sessionLog: { status: SESSION_START } });
  }

  private write(event: EventMessage): void {
    if (this.fd === null) throw new Error(`event file ${this.file} is closed`);
    writeSync(this.fd, frameRecord(encodeEvent(event)));
  }

  /** Scalar summaries (tag → value) at one step, in one event. */
  scalars(step: number, values: Record<string, number>): void {
    this.write({ wallTime: wallTime(), step, summary: { value: Object.entries(values).map(([tag, simpleValue]) => ({ tag, simpleValue })) } });
  }

  flush(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
