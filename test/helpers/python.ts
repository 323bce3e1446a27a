/**
 * The Python interpreter that has TensorFlow (the reference implementation for interop tests).
 * `.ci/run` and `npm run setup` create `.venv/` from requirements.txt; THAW_PYTHON overrides.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export function pythonPath(): string {
  if (process.env.THAW_PYTHON) return process.env.THAW_PYTHON;
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** Runs a Python script from test/python/ with arguments; returns stdout. Throws with stderr on failure. */
export async function runPython(script: string, args: string[] = [], timeoutMs = 300_000): Promise<string> {
  const file = path.isAbsolute(script) ? script : path.join(REPO_ROOT, 'test', 'python', script);
  try {
    const { stdout } = await execFileAsync(pythonPath(), [file, ...args], {
      timeout: timeoutMs,
      maxBuffer: 256 << 20,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' },
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`python ${path.basename(file)} ${args.join(' ')} failed: ${e.stderr || e.message}`, { cause: err });
  }
}

/** Runs jobs through nibabel (test/python/nifti_tools.py: describe, compare, write_pair, …); one result per job. */
export async function nibabel<T>(jobs: Array<Record<string, unknown>>): Promise<T[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-nibabel-'));
  try {
    const file = path.join(dir, 'jobs.json');
    await writeFile(file, JSON.stringify(jobs));
    return JSON.parse(await runPython('nifti_tools.py', [file])) as T[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
