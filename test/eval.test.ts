/**
 * `thaw eval` against NiftyNet's own evaluation action (its `dice` and `jaccard`, test/python/eval_reference.py) on
 * NIfTI files nibabel wrote as NiftyNet's inference names and shapes them: a 3-D label map, [x, y, z, 1, classes]
 * probabilities, a 5-D [x, y, z, 1, 1] label map; rotated affines; a class in neither image, one in the segmentation
 * only. And each mistake a user can make: one line naming the file, and its fix.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EvaluationReport } from '../lib/evaluation';
import { runCli } from './helpers/cli';
import { runPython } from './helpers/python';

interface Reference {
  num_classes: number;
  cases: Record<string, { class: number; dice: number | null; jaccard: number | null }[]>;
}

describe('thaw eval', () => {
  let root = '';
  let reference: Reference;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'thaw-eval-'));
    reference = JSON.parse((await runPython('eval_reference.py', [root])).trim().split('\n').pop()!) as Reference;
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("gives NiftyNet's Dice and Jaccard per case and class, from NiftyNet's output names and shapes", async () => {
    const csv = path.join(root, 'metrics.csv');
    const { code, stdout, stderr } = await runCli(['eval', path.join(root, 'segs'), path.join(root, 'labels'), '--num-classes', '4', '--json', '--csv', csv]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as EvaluationReport;
    assert.deepEqual(report.cases.map((c) => c.case), Object.keys(reference.cases).sort());
    for (const c of report.cases) {
      const want = reference.cases[c.case];
      for (const k of c.classes) {
        for (const measure of ['dice', 'jaccard'] as const) {
          const expected = want[k.class][measure];
          if (expected === null) assert.equal(k[measure], null, `${c.case} class ${k.class} ${measure}: in neither image, undefined as in NiftyNet (NaN)`);
          else assert.ok(Math.abs(k[measure]! - expected) < 1e-12, `${c.case} class ${k.class} ${measure}: ${k[measure]} vs NiftyNet ${expected}`);
        }
      }
    }
    // Means skip the cases where a class is undefined; class 3 is defined (Dice 0) only in caseA.
    assert.deepEqual(report.mean.map((m) => m.cases), [3, 3, 3, 1]);
    assert.match(stderr, /1 label map has no segmentation .*caseD_label\.nii\.gz/);
    const rows = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(rows[0], 'case,class,dice,jaccard,tp,fp,fn,seg_voxels,label_voxels,segmentation,label');
    assert.equal(rows.length, 1 + 3 * 4);
  });

  it('each mistake is one line naming the file, with its fix (exit 1), or a usage error (exit 2)', async () => {
    const bad = (kind: string) => [path.join(root, 'bad', kind, 'segs'), path.join(root, 'bad', kind, 'labels')];
    const cases: [string[], number, RegExp][] = [
      [bad('grid'), 1, /x_seg\.nii\.gz: its grid 5×6×4 differs from its label map .*x_label\.nii\.gz \(5×6×5\)/],
      [bad('affine'), 1, /x_seg\.nii\.gz: its affine .* differs from its label map .*7\.5\]/],
      [bad('not-classes'), 1, /x_label\.nii\.gz: value 0\.5 at voxel 0 is not a class index/],
      [bad('orphan'), 1, /no label map for 1 segmentation: .*y_seg\.nii\.gz \(case y\)/],
      [[path.join(root, 'segs'), path.join(root, 'labels'), '--num-classes', '2'], 1, /class 3 is not below --num-classes 2/],
      [[path.join(root, 'segs'), path.join(root, 'labels'), '--csv', path.join(root, 'no', 'such', 'dir', 'm.csv')], 1, /cannot write .*m\.csv \(ENOENT\)/],
      [[path.join(root, 'nothing-here*.nii.gz'), path.join(root, 'labels')], 1, /no NIfTI file .* matches/],
      [[path.join(root, 'segs'), path.join(root, 'labels'), '--num-classes', 'x'], 2, /--num-classes x: expected an integer >= 2/],
    ];
    for (const [args, exit, message] of cases) {
      const { code, stderr } = await runCli(['eval', ...args]);
      assert.equal(code, exit, `${args.join(' ')}: ${stderr}`);
      const lines = stderr.trim().split('\n').filter((l) => !/label maps? ha(s|ve) no segmentation/.test(l));
      assert.match(lines[0], new RegExp(`^thaw eval: .*${message.source}`));
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      assert.match(lines[1] ?? '', exit === 1 ? /^\s+Fix: / : /^Usage: thaw eval /);
    }
  });
});
