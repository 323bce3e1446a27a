/**
 * Running the thaw CLI in tests: in its own process as users run it (bin/thaw.js, from sources), or a command in this
 * process with what it prints. Every process started here is killed when the test file's process exits (its process
 * group, for the ones that lead one), and so is every background pid a test hands to `killOnExit`: a failed or
 * timed-out test leaves nothing running that would keep the test file, and CI, waiting.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '../../app/cli/command';
import { REPO_ROOT } from './python';
import { readSettings } from '../../lib/settings';

export const THAW_BIN = path.join(REPO_ROOT, 'bin', 'thaw.js');

/** How long one thaw command may take in a test before it is killed and reported (a hang is a failure, not a wait). */
export const COMMAND_DEADLINE_MS = 240_000;

const leftovers = new Map<number, { group: boolean }>();
let hookInstalled = false;

/** Kills `pid` (its group with `group`) when this process exits, unless it has gone by then. */
export function killOnExit(pid: number, group = false): void {
  leftovers.set(pid, { group });
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const [p, { group: g }] of leftovers) {
      try {
        process.kill(g ? -p : p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** `node bin/thaw.js <args>`, tracked for the exit hook; `detached` makes it lead its own process group. */
export function spawnThaw(args: string[], options: SpawnOptions & { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(process.execPath, [THAW_BIN, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
    env: { ...process.env, THAW_FROM_SOURCE: '1', ...options.env },
  });
  if (child.pid !== undefined) {
    killOnExit(child.pid, Boolean(options.detached));
    child.once('exit', () => leftovers.delete(child.pid!));
  }
  return child;
}

export interface CliResult {
  /** The exit code; -1 when a signal ended it (the output then says which) or the deadline killed it. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one thaw command to its end, within `deadlineMs` (killed and reported past it). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT, deadlineMs = COMMAND_DEADLINE_MS): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawnThaw(args, { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stderr += `\n[thaw ${args.join(' ')} still running after ${deadlineMs} ms: killed]\n`;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal && !timedOut) stderr += `\n[thaw ${args.join(' ')} ended by ${signal}]\n`;
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The pid of the background thaw that `thaw run --detach` started (it says `Running in the background (process N`). */
export function backgroundPid(detached: CliResult): number {
  const pid = /Running in the background \(process (\d+)/.exec(detached.stderr)?.[1];
  assert.ok(pid, detached.stderr);
  return Number(pid);
}

/** A thaw command a test talks to while it runs (signals, output so far), killed when the test ends. */
export interface RunningThaw {
  child: ChildProcess;
  output(): string;
  /** The exit code; -1 when a signal ended it (the output then names the signal). */
  exited: Promise<number>;
}

/** How long a running thaw command may take to reach what a test waits for (the machine may be loaded). */
export const RUNNING_DEADLINE_MS = 90_000;

export function startThaw(t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): RunningThaw {
  const child = spawnThaw(args, { env, cwd });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => {
    // -1 alone would hide which signal ended it (SIGINT unhandled, or a crash): the output says.
    if (signal) output += `\n[thaw ${args[0]} ended by ${signal}]\n`;
    resolve(code ?? -1);
  }));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output, exited };
}

/** Resolves with the exit code, or fails once the deadline passes. */
export async function exitWithin(run: RunningThaw, what: string, deadlineMs = RUNNING_DEADLINE_MS): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: thaw still running after ${deadlineMs} ms; output:\n${run.output()}`)), deadlineMs);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the command's output matches `pattern`; fails when it exits first or the deadline passes. */
export async function outputMatches(run: RunningThaw, pattern: RegExp, deadlineMs = RUNNING_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!pattern.test(run.output())) {
    assert.ok(run.child.exitCode === null && run.child.signalCode === null, `thaw exited before printing ${pattern}:\n${run.output()}`);
    assert.ok(Date.now() < deadline, `thaw did not print ${pattern} within ${deadlineMs} ms:\n${run.output()}`);
    await sleep(200);
  }
}

/** A command run in this process, with what it printed to stdout (console.log). */
export async function runInProcess(command: Command, args: string[]): Promise<{ code: number; printed: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
  try {
    return { code: await command.run(args, readSettings()), printed: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

/**
 * `thaw <args>` in this process through the CLI's dispatcher (app/cli/main.ts), top-level error handler included:
 * the exit code it sets (0 unless set) and everything printed to stdout and stderr. For many runs (fuzzing), where a
 * process per run would be too slow; process.exitCode is restored afterwards.
 */
export async function runMainInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import('../../app/cli/main');
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  const format = (parts: unknown[]) => parts.map((p) => (typeof p === 'string' ? p : p instanceof Error ? (p.stack ?? String(p)) : JSON.stringify(p))).join(' ');
  console.log = (...parts: unknown[]) => out.push(format(parts));
  console.error = (...parts: unknown[]) => err.push(format(parts));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(args);
    return { code: Number(process.exitCode ?? 0), stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
  } finally {
    console.log = log;
    console.error = error;
    process.exitCode = before;
  }
}
