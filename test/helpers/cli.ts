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
