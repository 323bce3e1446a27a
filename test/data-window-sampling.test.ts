/**
 * Window sampling by the label map: thaw's weighted and balanced draws against NiftyNet 0.6.0's own samplers on the
 * same map and window (their centre region, and how likely each window origin is), and, end to end through the NIfTI
 * source, a weighted window always centred where the only labelled voxel is.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { makeDataSource } from '../lib/data';
import { Purpose, sampleStream } from '../lib/data/random';
import { drawOrigin, originTable, type WindowSampling } from '../lib/data/window-sampling';
import { nibabel, runPython } from './helpers/python';

const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-sampling-'));

test('weighted and balanced window origins are as likely as NiftyNet\'s samplers make them, on the same region', async () => {
  const shape = [7, 6, 5];
  const window = [4, 3, 2];
  const rng = sampleStream(1, 0, 0, Purpose.niftiPick);
  // Mostly background, some 1s, a few 2s: weights and classes both matter.
  const labels = Int32Array.from({ length: 7 * 6 * 5 }, () => {
    const u = rng.uniform();
    return u < 0.7 ? 0 : u < 0.92 ? 1 : 2;
  });
  const samples = 60_000;
  const file = path.join(dir, 'map.json');
  writeFileSync(file, JSON.stringify({ map: Array.from(labels), shape, window, samples, seed: 4 }));
  const reference = JSON.parse(await runPython('niftynet_sampling.py', [file])) as Record<WindowSampling, Record<string, number>>;
  for (const mode of ['weighted', 'balanced'] as const) {
    const table = originTable(mode, labels, shape, window);
    const ours: Record<string, number> = {};
    for (let s = 0; s < samples; s++) {
      const key = drawOrigin(sampleStream(9, s, 0, Purpose.niftiPick), table, shape, window).join(',');
      ours[key] = (ours[key] ?? 0) + 1;
    }
    const theirs = reference[mode];
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), `${mode}: the same origins can be drawn`);
    for (const key of Object.keys(theirs)) {
      const [p, q] = [ours[key] / samples, theirs[key] / samples];
      const sigma = Math.sqrt((p * (1 - p) + q * (1 - q)) / samples);
      assert.ok(Math.abs(p - q) < 5 * sigma + 1e-4, `${mode} origin ${key}: thaw ${p.toFixed(4)}, NiftyNet ${q.toFixed(4)}`);
    }
  }
});

test('a weighted window through the NIfTI source is centred on the only labelled voxel, every time', async () => {
  mkdirSync(path.join(dir, 'one'), { recursive: true });
  // A label map of zeros but one voxel.
  await nibabel([
    { kind: 'write_volume', file: path.join(dir, 'one', 'case.nii.gz'), shape: [9, 8, 7], seed: 1 },
    { kind: 'write_volume', file: path.join(dir, 'one', 'case_label.nii.gz'), shape: [9, 8, 7], seed: 2, classes: 1, set: [[5, 3, 4, 1]] },
  ]);
  const source = makeDataSource({ kind: 'nifti', images: 'one/case.nii.gz', spatial_size: [4, 4, 3], normalisation: 'none', num_classes: 2, window_sampling: 'weighted' }, { seed: 3, baseDir: dir });
  for (let iteration = 0; iteration < 20; iteration++) {
    const batch = source.batch(iteration, 2);
    for (let b = 0; b < 2; b++) {
      const crop = batch.labels.subarray(b * 48, (b + 1) * 48);
      // The centre of a [4, 4, 3] window is at floor(w / 2) = [2, 2, 1]: C order index (2 * 4 + 2) * 3 + 1.
      assert.equal(crop.indexOf(1), (2 * 4 + 2) * 3 + 1, `iteration ${iteration}: the labelled voxel is the window's centre`);
    }
  }
});
