/** Running the thaw CLI in tests: in its own process from sources (exit codes through the real dispatcher), or a
 *  command in this process with what it prints. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from '../../lib/cli/command';
import { REPO_ROOT } from './python';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `thaw <args>` from sources (lib/cli/main.ts through tsx); resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'lib', 'cli', 'main.ts'), ...args], {
      cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A command run in this process, with what it printed to stdout (console.log). */
export async function runInProcess(command: Command, args: string[]): Promise<{ code: number; printed: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
  try {
    return { code: await command.run(args), printed: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

/**
 * `thaw <args>` in this process through the CLI's dispatcher (lib/cli/main.ts), top-level error handler included:
 * the exit code it sets (0 unless set) and everything printed to stdout and stderr. For many runs (fuzzing), where a
 * process per run would be too slow; process.exitCode is restored afterwards.
 */
export async function runMainInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import('../../lib/cli/main');
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
