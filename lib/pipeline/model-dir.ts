/**
 * Can a run write its checkpoints to a local model_dir? What `thaw run` would find out only when the first
 * checkpoint is saved: model_dir (or a folder above it) is a file or a device (`/dev/null`), lies on a filesystem
 * that takes no new folders (`/proc`, `/sys`, a read-only mount), or may not be written by this user. Found without
 * leaving anything behind: the nearest folder that exists gets a probe folder, removed at once.
 */
import { mkdtemp, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';

export interface ModelDirProblem {
  message: string;
  fix: string;
}

function kindOf(s: Stats): string {
  if (s.isFile()) return 'a file';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  return 'not a folder';
}

const FIX_FOLDER = 'set model_dir to a folder you can write to (or leave it out: runs/<name> beside the pipeline)';

function writeProblem(dir: string, shown: string, err: NodeJS.ErrnoException): ModelDirProblem {
  const where = shown === dir ? `${dir}` : `${dir}: its folder ${shown}`;
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return { message: `${where} may not be written by this user (${err.code})`, fix: FIX_FOLDER };
    case 'EROFS':
      return { message: `${where} is on a read-only filesystem`, fix: FIX_FOLDER };
    case 'ENOENT':
    case 'ENOTDIR':
      return { message: `${where} takes no new folders (a virtual filesystem such as /proc)`, fix: FIX_FOLDER };
    case 'ENOSPC':
    case 'EDQUOT':
      return { message: `${where} is on a full disk (${err.code})`, fix: 'free space there, or set model_dir to a folder on another disk' };
    case 'ENAMETOOLONG':
      return { message: `${dir} is too long a path for the filesystem`, fix: 'use a shorter model_dir' };
    default:
      return { message: `${where} cannot be written (${err.code ?? err.message})`, fix: FIX_FOLDER };
  }
}

/** Null when checkpoints can be written under `dir` (an absolute local path); otherwise what is wrong and the fix. */
export async function localModelDirProblem(dir: string): Promise<ModelDirProblem | null> {
  let current = dir;
  for (;;) {
    let s: Stats | null;
    try {
      s = await stat(current);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') s = null;
      else return writeProblem(dir, current, e);
    }
    if (s && !s.isDirectory()) {
      const what = current === dir ? `${dir} is ${kindOf(s)}, not a folder` : `${dir} cannot be created: ${current} is ${kindOf(s)}, not a folder`;
      return { message: what, fix: FIX_FOLDER };
    }
    if (s) {
      if (current === dir) {
        // A `models` that is not a folder would fail the first checkpoint.
        const models = await stat(path.join(dir, 'models')).catch(() => null);
        if (models && !models.isDirectory()) {
          return { message: `${path.join(dir, 'models')} is ${kindOf(models)}, where thaw keeps the checkpoints`, fix: 'move it away, or set model_dir to another folder' };
        }
      }
      try {
        await rmdir(await mkdtemp(path.join(current, '.thaw-check-')));
        return null;
      } catch (err) {
        return writeProblem(dir, current, err as NodeJS.ErrnoException);
      }
    }
    const parent = path.dirname(current);
    if (parent === current) return { message: `${dir}: no folder above it exists`, fix: FIX_FOLDER };
    current = parent;
  }
}
