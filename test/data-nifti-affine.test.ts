/**
 * Where a NIfTI image is in space, as nibabel says (`img.affine`: sform when its code is set, else qform, else
 * pixdims): thaw's niftiAffine on nibabel's own small test files (NIfTI-1 and -2, big- and little-endian, qform-only,
 * sform, neither) and on images nibabel places by a qform only (rotations, a flipped axis: qfac -1), by an sform
 * only, or by neither. `thaw eval` refuses pairs whose affines differ, so this decides "same place in space".
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { niftiAffine, readNiftiHeader } from '../lib/data/nifti';
import { nibabel } from './helpers/python';

function worstDiff(ours: number[][], theirs: number[][]): number {
  return Math.max(...ours.flatMap((row, r) => row.map((v, c) => Math.abs(v - theirs[r][c]) / Math.max(1, Math.abs(theirs[r][c])))));
}

test("niftiAffine equals nibabel's img.affine on nibabel's own test data", async () => {
  const [{ dir, files }] = await nibabel<{ dir: string; files: string[] }>([{ kind: 'test_data' }]);
  const readable = files.filter((f) => {
    try {
      readNiftiHeader(path.join(dir, f));
      return true;
    } catch {
      return false; // two-file pairs, CIFTI and the like: thaw refuses them with a DataError (tested elsewhere)
    }
  });
  assert.ok(readable.length >= 5, `nibabel's test data has NIfTI files thaw reads: ${readable.join(', ')}`);
  const described: { affine: number[][] }[] = await nibabel<{ affine: number[][] }>(readable.map((f) => ({ kind: 'describe', file: path.join(dir, f), max_values: 0 })));
  readable.forEach((f, i) => {
    const ours = niftiAffine(readNiftiHeader(path.join(dir, f)));
    const theirs = described[i].affine;
    assert.ok(worstDiff(ours, theirs) < 1e-5, `${f}: thaw ${JSON.stringify(ours)} vs nibabel ${JSON.stringify(theirs)}`);
  });
});

test('niftiAffine equals nibabel on images placed by a qform only, an sform only, or neither', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-affine-'));
  try {
    const rotation = (deg: number, axis: 0 | 1 | 2): number[][] => {
      const [c, s] = [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
      const [i, j] = [0, 1, 2].filter((k) => k !== axis);
      const m = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
      [m[i][i], m[i][j], m[j][i], m[j][j]] = [c, -s, s, c];
      return m;
    };
    const place = (r: number[][], zooms: number[], offset: number[]) => [...r.map((row, i) => [...row.map((v, j) => v * zooms[j]), offset[i]]), [0, 0, 0, 1]];
    const affines = [
      place(rotation(30, 2), [1, 1.2, 2], [10, -4, 2]),
      place(rotation(-75, 0), [0.8, 0.8, 1.5], [0, 3, -3]),
      place(rotation(140, 1), [1, 1, 3], [1, 2, 3]).map((row, i) => (i < 3 ? [row[0], row[1], -row[2], row[3]] : row)), // qfac -1
      place(rotation(0, 0), [2, 2, 2], [-1, -1, -1]),
    ];
    const jobs = affines.flatMap((affine, a) => [[1, 0], [0, 1], [0, 0]].map(([q, s]) => ({ kind: 'write_spatial', file: path.join(dir, `a${a}-q${q}-s${s}.nii`), affine, qform_code: q, sform_code: s })));
    const written = await nibabel<{ affine: number[][] }>(jobs);
    jobs.forEach((job, i) => {
      const ours = niftiAffine(readNiftiHeader(job.file));
      assert.ok(worstDiff(ours, written[i].affine) < 1e-5, `${path.basename(job.file)}: thaw ${JSON.stringify(ours)} vs nibabel ${JSON.stringify(written[i].affine)}`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
