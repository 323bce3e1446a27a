/**
 * Synthetic tasks and the counter-based randomness under them: batches are pure functions of (seed, iteration),
 * shapes and labels are what the tasks promise, and task B differs from A exactly by its unlabelled distractors.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { makeDataSource, SYNTHETIC_TASKS } from '../lib/data';
import { globFiles } from '../lib/data/glob';
import { keyOf, Stream } from '../lib/data/random';
import { UserError } from '../lib/errors';

const synthetic = (task: string, spatial_size: number[], seed = 1) =>
  makeDataSource({ kind: 'synthetic', task, spatial_size }, { seed, baseDir: '.' });

describe('counter-based randomness', () => {
  test('keys differ when any part differs, and streams are reproducible', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(1e7), fc.nat(64), (seed, it, sample) => {
        const k = keyOf(seed, it, sample);
        assert.equal(k, keyOf(seed, it, sample));
        assert.notEqual(k, keyOf(seed, it + 1, sample));
        assert.notEqual(k, keyOf(seed, it, sample + 1));
      }),
    );
    assert.notEqual(keyOf(5), keyOf(-5));
    const a = new Stream(42);
    const b = new Stream(42);
    for (let i = 0; i < 100; i++) assert.equal(a.normal(), b.normal());
  });

  test('uniform and normal draws have the right moments', () => {
    const s = new Stream(keyOf(7, 0));
    const n = 200_000;
    let sumU = 0;
    let sumN = 0;
    let sumN2 = 0;
    for (let i = 0; i < n; i++) {
      const u = s.uniform();
      assert.ok(u >= 0 && u < 1);
      sumU += u;
      const z = s.normal();
      sumN += z;
      sumN2 += z * z;
    }
    assert.ok(Math.abs(sumU / n - 0.5) < 0.005, `uniform mean ${sumU / n}`);
    assert.ok(Math.abs(sumN / n) < 0.01, `normal mean ${sumN / n}`);
    assert.ok(Math.abs(sumN2 / n - 1) < 0.02, `normal variance ${sumN2 / n}`);
  });
});

describe('synthetic tasks', () => {
  for (const size of [[48, 40], [20, 24, 16]]) {
    test(`${size.length}-D batches: shapes, labels, a foreground object in every sample`, () => {
      for (const task of Object.keys(SYNTHETIC_TASKS)) {
        const source = synthetic(task, size);
        assert.deepEqual([source.numClasses, source.channels, source.spatialSize], [2, 1, size]);
        const batch = source.batch(3, 5);
        const voxels = size.reduce((a, b) => a * b, 1);
        assert.deepEqual(batch.shape, [5, ...size, 1]);
        assert.equal(batch.images.length, 5 * voxels);
        assert.equal(batch.labels.length, 5 * voxels);
        for (let b = 0; b < 5; b++) {
          const labels = batch.labels.subarray(b * voxels, (b + 1) * voxels);
          assert.ok(labels.every((l) => l === 0 || l === 1));
          const fg = labels.reduce((a, l) => a + l, 0);
          assert.ok(fg > 0 && fg < voxels / 2, `${task} sample ${b}: ${fg} foreground voxels of ${voxels}`);
        }
        assert.ok(batch.images.every(Number.isFinite));
      }
    });
  }

  test('a batch is a pure function of (seed, iteration): call order and batch size do not matter', () => {
    const first = synthetic('B', [32, 32], 9);
    const wanted = first.batch(12, 4);
    for (let i = 0; i < 5; i++) first.batch(i, 3);
    assert.deepEqual(first.batch(12, 4), wanted);
    assert.deepEqual(synthetic('B', [32, 32], 9).batch(12, 4), wanted);
    const bigger = synthetic('B', [32, 32], 9).batch(12, 6);
    assert.deepEqual(bigger.images.subarray(0, wanted.images.length), wanted.images, 'sample j does not depend on batch size');
    assert.notDeepEqual(first.batch(13, 4).images, wanted.images);
    assert.notDeepEqual(synthetic('B', [32, 32], 10).batch(12, 4).images, wanted.images);
  });

  test('objects are brighter than background; B leaves bright distractors unlabelled, C is fainter than A', () => {
    const stats = (task: string, dims: number[]) => {
      const source = synthetic(task, dims, 4);
      let fgSum = 0, bgSum = 0, fgCount = 0, bgCount = 0, bright = 0, brightUnlabelled = 0;
      for (let it = 0; it < 10; it++) {
        const { images, labels } = source.batch(it, 4);
        for (let v = 0; v < labels.length; v++) {
          if (labels[v]) {
            fgSum += images[v];
            fgCount++;
          } else {
            bgSum += images[v];
            bgCount++;
          }
          if (images[v] > 1.2) {
            bright++;
            if (!labels[v]) brightUnlabelled++;
          }
        }
      }
      return { contrast: fgSum / fgCount - bgSum / bgCount, fgFraction: fgCount / (fgCount + bgCount), brightUnlabelled: brightUnlabelled / bright };
    };
    for (const dims of [[64, 64], [24, 24, 24]]) {
      const [a, b, c] = ['A', 'B', 'C'].map((t) => stats(t, dims));
      assert.ok(a.contrast > 0.9, `A contrast ${a.contrast}`);
      assert.ok(c.contrast < a.contrast - 0.3, `C (${c.contrast}) fainter than A (${a.contrast})`);
      // B's bars are bright but unlabelled; in A only noise is.
      assert.ok(b.brightUnlabelled > a.brightUnlabelled + 0.1, `bright unlabelled voxels: B ${b.brightUnlabelled}, A ${a.brightUnlabelled}`);
      assert.ok(b.fgFraction < a.fgFraction, `B labels less (${b.fgFraction}) than A (${a.fgFraction})`);
    }
  });

  test('bad configs are DataErrors that list the valid choices', () => {
    for (const [task, size, fragment] of [['Z', [32, 32], 'A (bright blobs'], ['A', [32], 'spatial_size'], ['A', [4, 4], 'spatial_size']] as const) {
      assert.throws(
        () => synthetic(task, [...size]),
        (err: unknown) => err instanceof UserError && err.type === 'DataError' && `${err.message} ${err.details.fix}`.includes(fragment),
      );
    }
  });
});

describe('file glob', () => {
  test('*, ?, [..], ** and hidden names, relative and absolute', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-glob-'));
    try {
      for (const f of ['a1.nii', 'a2.nii.gz', 'b1.nii', '.hidden.nii', 'sub/a3.nii', 'sub/deep/a4.nii', 'sub/.dot/a5.nii', 'x(1)+.nii']) {
        mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
        writeFileSync(path.join(dir, f), '');
      }
      const rel = (pattern: string) => globFiles(pattern, dir).map((f) => path.relative(dir, f));
      assert.deepEqual(rel('*.nii'), ['a1.nii', 'b1.nii', 'x(1)+.nii']);
      assert.deepEqual(rel('a?.nii*'), ['a1.nii', 'a2.nii.gz']);
      assert.deepEqual(rel('[ab]1.nii'), ['a1.nii', 'b1.nii']);
      assert.deepEqual(rel('[!a]1.nii'), ['b1.nii']);
      assert.deepEqual(rel('**/a*.nii'), ['a1.nii', 'sub/a3.nii', 'sub/deep/a4.nii']);
      assert.deepEqual(rel('.*.nii'), ['.hidden.nii']);
      assert.deepEqual(rel('x(1)+.nii'), ['x(1)+.nii']);
      assert.deepEqual(rel('sub/*'), ['sub/a3.nii']);
      assert.deepEqual(globFiles(path.join(dir, 'sub', '*', '*.nii'), '/elsewhere'), [path.join(dir, 'sub/deep/a4.nii')]);
      assert.deepEqual(rel('missing/*.nii'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
