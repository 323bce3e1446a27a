/**
 * thaw infer's window grid (lib/inference/grid.ts) is NiftyNet 0.6.0's: the starts and their order from its own
 * sampler_grid_v2.grid_spatial_coordinates (test/python/grid_reference.py), on axes that take the grid steps, the
 * snapped last window, the added middle one (2.5 → 2: numpy rounds halves to even), border 0 and a window the
 * size of the axis.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gridWindows } from '../lib/inference/grid';
import { runPython } from './helpers/python';

const CASES = [
  { image: [11, 11, 7], window: [6, 6, 4], border: [1, 0, 1] },
  { image: [210, 200, 2], window: [196, 196, 1], border: [90, 90, 0] },
  { image: [16, 9, 8], window: [16, 4, 3], border: [2, 1, 0] },
  { image: [40, 33, 27], window: [10, 12, 9], border: [3, 4, 2] },
];

test('window starts and their order are NiftyNet\'s grid_spatial_coordinates', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'thaw-grid-')), 'cases.json');
  writeFileSync(file, JSON.stringify(CASES));
  const theirs = JSON.parse((await runPython('grid_reference.py', [file])).trim().split('\n').at(-1)!) as number[][][];
  CASES.forEach((c, i) => {
    assert.deepEqual(gridWindows(c.image, c.window, c.border), theirs[i], JSON.stringify(c));
    console.log(`# ${JSON.stringify(c)}: ${theirs[i].length} windows equal`);
  });
});
