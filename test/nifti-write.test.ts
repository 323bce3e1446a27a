/**
 * lib/data/nifti-write.ts read back by nibabel and by thaw's reader: shape, dtype, the source's qform/sform (so the
 * affine), pixdims and voxel values, for label maps (uint8, int16) and NiftyNet's [x, y, z, 1, classes] float32 maps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { niftiAffine, readNifti, type NiftiSpace } from '../lib/data/nifti';
import { writeNifti, type NiftiWriteType } from '../lib/data/nifti-write';
import { nibabel } from './helpers/python';

const SPACE: NiftiSpace = {
  qfac: -1, pixdimAll: [1.5, 0.75, 2, 1, 1, 1, 1], qformCode: 1, sformCode: 2,
  quatern: [0.1, -0.2, 0.3], qoffset: [-10, 20.5, 3],
  srow: [[0, -0.75, 0, 12], [1.5, 0, 0.1, -8], [0, 0, 2, 4.25]],
  xyztUnits: 10, dimInfo: 0, sliceStart: 0, sliceEnd: 0, sliceCode: 0, sliceDuration: 0, toffset: 0,
  intentCode: 0, intentP: [0, 0, 0], intentName: '', calMin: 0, calMax: 0, descrip: '', auxFile: '',
};

interface Described { shape: number[]; dtype: string; affine: number[][]; qform: number[][]; qform_code: number; sform_code: number; values: number[] }

test('written NIfTI-1 files read back by nibabel with the source space, shape, dtype and values', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'thaw-nifti-write-'));
  const cases: Array<{ file: string; dims: number[]; datatype: NiftiWriteType; dtype: string }> = [
    { file: 'labels.nii.gz', dims: [4, 3, 2], datatype: 'uint8', dtype: 'uint8' },
    { file: 'labels16.nii', dims: [4, 3, 2], datatype: 'int16', dtype: 'int16' },
    { file: 'prob.nii.gz', dims: [4, 3, 2, 1, 3], datatype: 'float32', dtype: 'float32' },
  ];
  const data = cases.map((c) => Float32Array.from({ length: c.dims.reduce((a, b) => a * b, 1) }, (_, i) => (c.datatype === 'float32' ? i / 7 : i % 5)));
  cases.forEach((c, k) => writeNifti(path.join(dir, c.file), { dims: c.dims, datatype: c.datatype, data: data[k], space: SPACE, descrip: 'thaw test' }));
  const described = await nibabel<Described>(cases.map((c) => ({ kind: 'describe', file: path.join(dir, c.file) })));
  cases.forEach((c, k) => {
    const d = described[k];
    assert.deepEqual(d.shape, c.dims, c.file);
    assert.equal(d.dtype, c.dtype, c.file);
    assert.equal(d.qform_code, 1);
    assert.equal(d.sform_code, 2);
    const ours = readNifti(path.join(dir, c.file));
    const close = (a: number[][], b: number[][]) => a.every((row, i) => row.every((x, j) => Math.abs(x - b[i][j]) < 1e-5));
    assert.ok(close(d.affine, niftiAffine(ours.header)), `${c.file}: affine ${JSON.stringify(d.affine)}`);
    assert.ok(close(d.affine, [...SPACE.srow, [0, 0, 0, 1]]), `${c.file}: the sform is the affine`);
    // nibabel's values in Fortran order are file order
    d.values.forEach((x, i) => assert.ok(Math.abs(x - data[k][i]) < 1e-6, `${c.file} voxel ${i}: ${x} vs ${data[k][i]}`));
    assert.deepEqual([...ours.data], [...data[k]]);
  });
});
