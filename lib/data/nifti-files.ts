/** The NIfTI files a command-line argument names: a file, a folder (its .nii / .nii.gz files) or a glob. */
import { statSync } from 'node:fs';
import path from 'node:path';
import { DataError } from './errors';
import { globFiles } from './glob';

const NIFTI_EXT = /\.nii(\.gz)?$/i;

/** A NIfTI file's name less its folder and extension (`case1` of `data/case1.nii.gz`). */
export function niftiStem(file: string): string {
  return path.basename(file).replace(NIFTI_EXT, '');
}

/** Absolute paths, sorted; none is a DataError naming `field` (the flag or argument). */
export function niftiFiles(arg: string, baseDir: string, field: string): string[] {
  const resolved = path.resolve(baseDir, arg);
  const stat = statSync(resolved, { throwIfNoEntry: false });
  if (stat?.isFile()) return [resolved];
  const folder = stat?.isDirectory() === true;
  const files = (folder ? globFiles('*', resolved) : globFiles(arg, baseDir)).filter((f) => NIFTI_EXT.test(f));
  if (files.length === 0) {
    throw new DataError(`${arg}: ${folder ? 'the folder holds no .nii or .nii.gz files' : 'no NIfTI file (.nii, .nii.gz) matches'}`, {
      field, fix: 'give a NIfTI file, a folder of them or a glob such as data/*_t1.nii.gz (quote it so the shell leaves it alone)',
    });
  }
  return files;
}
