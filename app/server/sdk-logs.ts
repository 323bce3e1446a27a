/**
 * Where the Temporal SDK's own log lines go (its TypeScript side and, forwarded, its native core). `thaw run` sends
 * them to the run's log file, so the terminal shows only thaw's lines (no `[WARN] Workflow failed {…}` dumps with
 * stacks, no gRPC retry warnings while shutting down); `thaw worker`, a service, prints them on stderr one line each.
 * The SDK's Runtime can be installed once per process: a process that installed its own keeps it.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

export type SdkLogTarget = { file: string } | { stderr: true };

export interface SdkLogOptions {
  /** Lowest level kept (default INFO for a file, WARN for stderr). */
  level?: LogLevel;
}

/** Messages that say nothing to a thaw user (a training-only worker has no workflows by design). */
const DROPPED = [/^No workflows registered/];

let installedTarget: SdkLogTarget | null = null;

/** The file SDK logs go to in this process, when installSdkLogs installed one. */
export function sdkLogFile(): string | null {
  return installedTarget && 'file' in installedTarget ? installedTarget.file : null;
}

/**
 * Installs the SDK Runtime with a logger writing to `target`; false when a Runtime already exists (then its settings
 * stay). Must run before the first worker or native connection of this process.
 */
export function installSdkLogs(target: SdkLogTarget, options: SdkLogOptions = {}): boolean {
  const toFile = 'file' in target;
  const level = options.level ?? (toFile ? 'INFO' : 'WARN');
  if (toFile) mkdirSync(path.dirname(target.file), { recursive: true });
  const write = toFile
    ? (entry: LogEntry) => appendQuietly(target.file, `${fileLine(entry)}\n`)
    : (entry: LogEntry) => process.stderr.write(`${compactLine(entry)}\n`);
  const logger = new DefaultLogger(level, (entry) => {
    if (!DROPPED.some((re) => re.test(entry.message))) write(entry);
  });
  try {
    Runtime.install({
      logger,
      // Native (core) log lines are forwarded to the same logger instead of going straight to the console.
      telemetryOptions: { logging: { filter: { core: level === 'DEBUG' || level === 'TRACE' ? level : 'WARN', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    return false;
  }
  installedTarget = target;
  return true;
}

function appendQuietly(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch {
    // A log line that cannot be written must never fail the run.
  }
}

function time(entry: LogEntry): string {
  // timestampNanos is a bigint of nanoseconds since the epoch.
  return new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
}

/** Everything, stacks included: the log file is where a person looks when something went wrong. */
export function fileLine(entry: LogEntry): string {
  const meta = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${inspect(entry.meta, { depth: 6, breakLength: Infinity })}` : '';
  return `${time(entry)} [${entry.level}] ${entry.message}${meta}`;
}

/** One line: the message, the run and activity it is about, and the first line of the error. */
export function compactLine(entry: LogEntry): string {
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const about = ['workflowId', 'activityType', 'taskQueue', 'attempt']
    .filter((k) => meta[k] !== undefined && meta[k] !== '')
    .map((k) => `${k}=${String(meta[k])}`);
  const error = meta.error;
  const errorText = error instanceof Error ? error.message : typeof error === 'string' ? error : error === undefined ? '' : inspect(error, { breakLength: Infinity });
  const firstLine = errorText.split('\n')[0];
  return `${time(entry)} [${entry.level}] ${entry.message}${about.length ? ` (${about.join(', ')})` : ''}${firstLine ? `: ${firstLine}` : ''}`;
}
