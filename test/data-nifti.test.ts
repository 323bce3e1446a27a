/**
 * The NIfTI loader against files nibabel writes at test time (test/python/data_write_nifti.py): every voxel type,
 * both byte orders, NIfTI-1 and -2, gzip, scl_slope; image/label pairs from a glob and from a CSV; crops compared
 * voxel by voxel with nibabel's array indexing; normalisation; and the DataErrors users get for broken data.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeDataSource } from '../lib/data';
import { readNifti, readNiftiHeader } from '../lib/data/nifti';
import { UserError } from '../lib/errors';
import type { NiftiDataConfig } from '../lib/pipeline/plan';
import { runPython } from './helpers/python';

interface Written {
  dims: number[];
  datatype: number;
  /** get_fdata() values, x fastest. */
  values: number[];
}

let dir: string;
let written: Record<string, Written>;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-nifti-'));
  written = JSON.parse(await runPython('data_write_nifti.py', [dir])) as Record<string, Written>;
});
after(() => rmSync(dir, { recursive: true, force: true }));

const nifti = (extra: Partial<NiftiDataConfig>): NiftiDataConfig => ({ kind: 'nifti', spatial_size: [8, 8, 8], normalisation: 'none', ...extra });

/** Origins [x, y, z] at which `crop` (C order [x, y, z, c]) equals the written volume (x fastest, channel slowest). */
function matchingOrigins(vol: Written, crop: ArrayLike<number>, size: number[], channels: number): number[][] {
  const [X, Y, Z] = [vol.dims[0], vol.dims[1] ?? 1, vol.dims[2] ?? 1];
  const [cx, cy, cz] = [size[0], size[1], size[2] ?? 1];
  const found: number[][] = [];
  for (let ox = 0; ox + cx <= X; ox++) {
    for (let oy = 0; oy + cy <= Y; oy++) {
      for (let oz = 0; oz + cz <= Z; oz++) {
        let ok = true;
        for (let i = 0, x = 0; ok && x < cx; x++) {
          for (let y = 0; ok && y < cy; y++) {
            for (let z = 0; ok && z < cz; z++) {
              for (let c = 0; c < channels; c++, i++) {
                const expected = vol.values[ox + x + X * (oy + y + Y * (oz + z + Z * c))];
                if (Math.abs(crop[i] - expected) > 1e-6 * Math.max(1, Math.abs(expected))) {
                  ok = false;
                  break;
                }
              }
            }
          }
        }
        if (ok) found.push([ox, oy, oz]);
      }
    }
  }
  return found;
}

function expectDataError(fn: () => unknown, ...fragments: string[]): UserError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.type, 'DataError');
    for (const f of fragments) assert.ok(err.message.includes(f), `message "${err.message}" should mention "${f}"`);
    return err;
  }
  assert.fail('expected a DataError');
}

describe('NIfTI reader', () => {
  test('reads every file nibabel wrote with nibabel\'s values (types, endianness, NIfTI-2, gzip, scl_slope)', () => {
    assert.ok(Object.keys(written).length >= 15);
    for (const [name, want] of Object.entries(written)) {
      const { header, data } = readNifti(path.join(dir, name));
      assert.deepEqual(header.dims, want.dims, name);
      assert.equal(header.datatype, want.datatype, name);
      assert.equal(data.length, want.values.length, name);
      for (let i = 0; i < data.length; i++) {
        const w = want.values[i];
        if (Math.abs(data[i] - w) > 1e-6 * Math.max(1, Math.abs(w))) assert.fail(`${name}[${i}]: ${data[i]} != nibabel ${w}`);
      }
    }
  });

  test('the header alone matches the full read, also for .nii.gz, and knows its byte order and version', () => {
    for (const name of ['glob/case1.nii.gz', 'glob/case2.nii', 'dtypes/nifti2.nii.gz', 'dtypes/bigendian.nii']) {
      assert.deepEqual(readNiftiHeader(path.join(dir, name)), readNifti(path.join(dir, name)).header);
    }
    assert.equal(readNiftiHeader(path.join(dir, 'dtypes/bigendian.nii')).littleEndian, false);
    assert.equal(readNiftiHeader(path.join(dir, 'dtypes/nifti2.nii.gz')).version, 2);
    const scaled = readNiftiHeader(path.join(dir, 'glob/case2.nii'));
    assert.deepEqual([scaled.datatypeName, scaled.sclSlope, scaled.sclInter], ['int16', 2.5, 10]);
  });

  test('unsupported, corrupt and truncated files are DataErrors naming the file', () => {
    const complex = path.join(dir, 'unsupported/complex.nii');
    assert.equal(expectDataError(() => readNifti(complex), 'complex64', 'not supported').details.file, complex);
    const garbage = path.join(dir, 'broken/garbage.nii');
    mkdirSync(path.dirname(garbage), { recursive: true });
    writeFileSync(garbage, Buffer.alloc(400, 7));
    expectDataError(() => readNiftiHeader(garbage), garbage, 'sizeof_hdr');
    const truncated = path.join(dir, 'broken/truncated.nii');
    copyFileSync(path.join(dir, 'glob/case2.nii'), truncated);
    truncateSync(truncated, 2000);
    expectDataError(() => readNifti(truncated), truncated, 'truncated');
    const badGzip = path.join(dir, 'broken/bad.nii.gz');
    const gz = readFileSync(path.join(dir, 'glob/case1.nii.gz'));
    writeFileSync(badGzip, Buffer.concat([gz.subarray(0, 40), Buffer.alloc(200, 0xab)]));
    expectDataError(() => readNifti(badGzip), badGzip, 'gzip');
    expectDataError(() => readNifti(path.join(dir, 'nope.nii')), 'nope.nii', 'ENOENT');
  });

  test('voxels at an offset that is not a multiple of their size read the same (unaligned copy)', () => {
    const original = readFileSync(path.join(dir, 'glob/case2.nii'));
    const voxOffset = original.readFloatLE(108);
    const shifted = Buffer.concat([original.subarray(0, voxOffset), Buffer.alloc(1), original.subarray(voxOffset)]);
    shifted.writeFloatLE(voxOffset + 1, 108);
    const file = path.join(dir, 'unaligned/case2.nii');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, shifted);
    assert.deepEqual(readNifti(file).data, readNifti(path.join(dir, 'glob/case2.nii')).data);
  });
});

describe('NIfTI data source', () => {
  test('glob + label suffix: every crop is a window of one image and its label at the same origin (nibabel axes)', () => {
    const source = makeDataSource(nifti({ images: 'glob/*.nii*' }), { seed: 3, baseDir: dir });
    assert.deepEqual([source.numClasses, source.channels, source.spatialSize], [4, 1, [8, 8, 8]]);
    const used = new Set<string>();
    for (let it = 0; it < 4; it++) {
      const batch = source.batch(it, 3);
      assert.deepEqual(batch.shape, [3, 8, 8, 8, 1]);
      for (let b = 0; b < 3; b++) {
        const image = batch.images.subarray(b * 512, (b + 1) * 512);
        const label = batch.labels.subarray(b * 512, (b + 1) * 512);
        const hits = ['case1', 'case2'].flatMap((c) => {
          const ext = c === 'case1' ? '.nii.gz' : '.nii';
          return matchingOrigins(written[`glob/${c}${ext}`], image, [8, 8, 8], 1).map((o) => ({ c, ext, o }));
        });
        assert.equal(hits.length, 1, 'distinct voxel values identify exactly one origin');
        const { c, ext, o } = hits[0];
        used.add(c);
        const labelOrigins = matchingOrigins(written[`glob/${c}_label${ext}`], label, [8, 8, 8], 1);
        assert.ok(labelOrigins.some((l) => l.join() === o.join()), 'label crop at the image crop origin');
      }
    }
    assert.deepEqual([...used].sort(), ['case1', 'case2'], 'both pairs are drawn');
  });

  test('batches are a pure function of (seed, iteration): repeatable, order-independent, seed-dependent', () => {
    const config = nifti({ images: 'glob/*.nii*' });
    const a = makeDataSource(config, { seed: 11, baseDir: dir });
    const later = a.batch(7, 4);
    a.batch(2, 4);
    const b = makeDataSource(config, { seed: 11, baseDir: dir });
    assert.deepEqual(b.batch(7, 4), later);
    assert.deepEqual(a.batch(7, 4), later);
    assert.notDeepEqual(makeDataSource(config, { seed: 12, baseDir: dir }).batch(7, 4).images, later.images);
  });

  test('CSV pairs (paths relative to the CSV), 2-D images, explicit num_classes', () => {
    writeFileSync(path.join(dir, 'flat', 'pairs.csv'), 'subject,image,label\ns1,slice.nii,"slice_label.nii"\n');
    const source = makeDataSource(nifti({ csv: 'flat/pairs.csv', spatial_size: [16, 12], num_classes: 3 }), { seed: 1, baseDir: dir });
    assert.deepEqual([source.numClasses, source.channels], [3, 1]);
    const batch = source.batch(0, 2);
    assert.deepEqual(batch.shape, [2, 16, 12, 1]);
    for (let b = 0; b < 2; b++) {
      const origins = matchingOrigins(written['flat/slice.nii'], batch.images.subarray(b * 192, (b + 1) * 192), [16, 12], 1);
      assert.equal(origins.length, 1);
      assert.ok(matchingOrigins(written['flat/slice_label.nii'], batch.labels.subarray(b * 192, (b + 1) * 192), [16, 12], 1).some((o) => o.join() === origins[0].join()));
    }
  });

  test('NIfTI dimension 4 becomes the channel axis', () => {
    const source = makeDataSource(nifti({ images: 'multi/*.nii.gz', spatial_size: [5, 4, 3] }), { seed: 2, baseDir: dir });
    assert.equal(source.channels, 2);
    const batch = source.batch(1, 2);
    assert.deepEqual(batch.shape, [2, 5, 4, 3, 2]);
    assert.equal(matchingOrigins(written['multi/mm.nii.gz'], batch.images.subarray(0, 120), [5, 4, 3], 2).length, 1);
  });

  test('zscore and minmax normalise each image', () => {
    for (const normalisation of ['zscore', 'minmax'] as const) {
      const source = makeDataSource(nifti({ images: 'glob/case1.nii.gz', spatial_size: [20, 18, 16], normalisation }), { seed: 0, baseDir: dir });
      const v = source.batch(0, 1).images;
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      if (normalisation === 'zscore') {
        assert.ok(Math.abs(mean) < 1e-4 && Math.abs(sd - 1) < 1e-4, `zscore: mean ${mean}, sd ${sd}`);
      } else {
        assert.deepEqual([Math.min(...v), Math.max(...v)], [0, 1]);
      }
    }
  });

  test('broken data sets fail at construction with DataErrors that name the file and the problem', () => {
    const make = (c: Partial<NiftiDataConfig>) => () => makeDataSource(nifti(c), { seed: 0, baseDir: dir });
    expectDataError(make({ images: 'mismatch/*.nii.gz' }), 'a_label.nii.gz', 'differs from its image', '10×10×9');
    expectDataError(make({ images: 'glob/*.nii*', spatial_size: [32, 8, 8] }), 'smaller than the crop', '[32, 8, 8]');
    expectDataError(make({ images: 'glob/*.nii*', spatial_size: [8, 8] }), 'is 3-D', 'spatial_size');
    expectDataError(make({ images: 'fractional/*.nii.gz' }), 'a_label.nii.gz', 'label value 0.5');
    expectDataError(make({ images: 'glob/*.nii*', num_classes: 3 }), 'case1_label.nii.gz', 'label value 3', 'num_classes (3)');
    expectDataError(make({ images: 'nowhere/*.nii.gz' }), 'no NIfTI images match', 'nowhere/*.nii.gz');
    expectDataError(make({ images: 'glob/*.nii*', label_suffix: '_seg' }), 'case1_seg.nii.gz', 'does not exist');
    writeFileSync(path.join(dir, 'nocols.csv'), 'img,seg\na.nii,b.nii\n');
    expectDataError(make({ csv: 'nocols.csv' }), 'nocols.csv', "'image' and 'label'");
    writeFileSync(path.join(dir, 'missing.csv'), 'image,label\nglob/case1.nii.gz,glob/gone.nii.gz\n');
    expectDataError(make({ csv: 'missing.csv' }), 'missing.csv:2', 'gone.nii.gz', 'does not exist');
    expectDataError(make({}), 'csv, images or inputs');
  });
});
