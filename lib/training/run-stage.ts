/**
 * runStage: trains one stage in a supervised child process (the loop's synchronous steps would otherwise starve the
 * caller's event loop, and with it Temporal heartbeats and cancellation). Progress arrives over IPC; an abort signal
 * asks the child to checkpoint at its current iteration and return (result.stopped = true), with a hard kill if it
 * does not exit in time. A child crash is a plain (retryable) Error carrying the tail of its stderr; a user error in
 * the child is re-thrown as a UserError of the same type (StageChildUserError).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import type { ThawSettings } from '../settings';
import { StageChildUserError } from './errors';
import type { ChildMessage, ParentMessage } from './stage-protocol';
import type { StageProgress, StageResult, StageRunRequest } from './types';

export type { StageProgress, StageResult, StageRunRequest, StageSelection, StageSidecar } from './types';

export interface RunStageOptions {
  onProgress?: (p: StageProgress) => void;
  /** Lines the trainer logs (which backend ran, resume point, stop). Default: stderr with a `[thaw train]` prefix. */
  onLog?: (line: string) => void;
  signal?: AbortSignal;
  /** Called with the child's pid once it is started (supervisors, tests that kill it). */
  onStart?: (pid: number) => void;
  /** After a stop request, how long the child may take to checkpoint and exit before it is killed. Default 120 s. */
  stopTimeoutMs?: number;
  /** Environment the child gets on top of this process' (its GPU); settings go with the request, not as variables. */
  env?: Record<string, string>;
  /** thaw's settings for the child, sent with the request (default: the child reads its environment once). */
  settings?: ThawSettings;
}

const STDERR_TAIL_BYTES = 8192;

/** The child's entry next to this file: `.ts` under tsx (sources), `.js` from dist. */
function childEntry(): string {
  return path.join(__dirname, `stage-child${path.extname(__filename)}`);
}

/** Node flags the child needs to load the entry the way this process loads its code (tsx), minus test-runner flags. */
/** node --test flags that take their value as the next argument (`--test-name-pattern X`). */
const TEST_FLAGS_WITH_VALUE = new Set([
  '--test-name-pattern', '--test-skip-pattern', '--test-reporter', '--test-reporter-destination',
  '--test-concurrency', '--test-timeout', '--test-shard',
]);
/** Flags that run code of their own instead of the entry file (`node -e …`): inherited, every child would run it again. */
const CODE_FLAGS = new Set(['--eval', '-e', '--print', '-p']);

/** The parent's node flags minus the test runner's and `--eval`'s (a training child is neither a test nor a script). */
function childFlags(argv: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].split('=')[0];
    const takesNext = !argv[i].includes('=');
    if (CODE_FLAGS.has(flag)) {
      if (takesNext) i++;
    } else if (flag.startsWith('--test')) {
      if (TEST_FLAGS_WITH_VALUE.has(flag) && takesNext) i++;
    } else kept.push(argv[i]);
  }
  return kept;
}

function childExecArgv(): string[] {
  const args = childFlags(process.execArgv);
  // bin/thaw.js loads sources with require('tsx/cjs'), which leaves no flag behind: give the child the same loader.
  const loadsTs = args.some((a) => a.includes('tsx'));
  return childEntry().endsWith('.ts') && !loadsTs ? [...args, '--require', require.resolve('tsx/cjs')] : args;
}

export function runStage(req: StageRunRequest, opts: RunStageOptions = {}): Promise<StageResult> {
  const onLog = opts.onLog ?? ((line: string) => process.stderr.write(`[thaw train] ${line}\n`));
  return new Promise<StageResult>((resolve, reject) => {
    const child = fork(childEntry(), [], {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { TF_CPP_MIN_LOG_LEVEL: '2', ...process.env, ...opts.env },
    });
    let stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });

    let outcome: { result: StageResult } | { error: Error } | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    const send = (m: ParentMessage) => {
      if (child.connected) child.send(m);
    };
    const onAbort = () => {
      send({ type: 'stop' });
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.stopTimeoutMs ?? 120_000);
      killTimer.unref();
    };

    child.on('message', (m: ChildMessage) => {
      switch (m.type) {
        case 'log':
          onLog(m.line);
          break;
        case 'progress':
          opts.onProgress?.(m.progress);
          break;
        case 'result':
          outcome = { result: m.result };
          break;
        case 'error':
          outcome = {
            error: 'userError' in m
              ? new StageChildUserError(m.userError.type, m.userError.message, m.userError.details)
              : Object.assign(new Error(`stage ${req.stage}: training failed: ${m.message}`), { stack: m.stack }),
          };
          break;
      }
    });
    child.on('error', (err) => {
      outcome ??= { error: err };
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (outcome && 'result' in outcome) return resolve(outcome.result);
      if (outcome) return reject(outcome.error);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new Error(`stage ${req.stage}: the training process ${how} before finishing; stderr tail:\n${stderrTail.trim()}`));
    });

    if (child.pid !== undefined) opts.onStart?.(child.pid);
    send({ type: 'run', request: req, settings: opts.settings });
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
