/**
 * The Python interpreter that has TensorFlow (the reference implementation for interop tests).
 * `.ci/run` and `npm run setup` create `.venv/` from requirements.txt; THAW_PYTHON overrides.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
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
