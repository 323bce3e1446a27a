/**
 * A TensorBoard event file writer for scalar curves: `events.out.tfevents.<unix time>.<host>` in a run folder (one
 * per stage), file_version first, then a SessionLog START at the step the file starts from, then scalar summaries.
 *
 * No duplicated steps after a resume, whatever reads the files: opening a run at step N first rewrites the run's
 * earlier event files without their events at steps >= N (and without a record torn by a crash). The START event
 * additionally tells TensorBoard's own restart handling what happened (every file has one, so a resumed file's START
 * is never the run's first, which TensorBoard ignores).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppendFile } from './append-file';
import { decodeEvent, encodeEvent, EVENT_FILE_VERSION, SESSION_START, type EventMessage } from './event-proto';
import { frameRecord, readRecords } from './tfrecord';

const EVENT_FILE = /^events\.out\.tfevents\.(\d+)\./;

/** Rewrites one event file without the events at or after `fromStep` (file_version and START events stay). */
function dropStepsFrom(file: string, fromStep: number): void {
  const bytes = readFileSync(file);
  const records = readRecords(bytes);
  const kept = records.filter((r) => {
    const e = decodeEvent(r.data);
    return e.summary === undefined || (e.step ?? 0) < fromStep;
  });
  const keptBytes = kept.reduce((n, r) => n + r.framed.length, 0);
  if (kept.length === records.length && keptBytes === bytes.length) return;
  const tmp = path.join(path.dirname(file), `.rewrite-${process.pid}`); // a name TensorBoard never reads
  writeFileSync(tmp, Buffer.concat(kept.map((r) => r.framed)));
  renameSync(tmp, file);
}

const wallTime = () => Date.now() / 1000;

export class EventFileWriter {
  private readonly out: AppendFile;

  constructor(runDir: string, resumeFromStep: number) {
    mkdirSync(runDir, { recursive: true });
    const earlier = readdirSync(runDir).filter((n) => EVENT_FILE.test(n));
    for (const name of earlier) dropStepsFrom(path.join(runDir, name), resumeFromStep);
    // TensorBoard reads a run's files in name order: this file must sort after the earlier ones, even when it starts
    // within the same second or on a host whose clock is behind.
    const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
    const time = Math.max(Math.floor(Date.now() / 1000), ...earlier.map((n) => Number(EVENT_FILE.exec(n)![1]) + 1));
    this.out = new AppendFile(path.join(runDir, `events.out.tfevents.${time}.${host}`), 'wx');
    this.write({ wallTime: wallTime(), fileVersion: EVENT_FILE_VERSION });
    this.write({ wallTime: wallTime(), step: resumeFromStep, sessionLog: { status: SESSION_START } });
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
