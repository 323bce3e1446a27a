/**
 * NIfTI data given as NiftyNet's input sections (data.inputs, image, label, dataset_split_file): the folder search
 * against NiftyNet 0.6.0's own KeywordsMatching on the same files, modalities as channels in the order `image` names
 * them, the split file's training rows, and the DataErrors of broken sections.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { makeDataSource } from '../lib/data';
import { findNiftiCases } from '../lib/data/nifti-cases';
import { searchSection } from '../lib/data/niftynet-search';
import { isUserError } from '../lib/errors';
import type { NiftiDataConfig } from '../lib/pipeline/plan';
import { nibabel, runPython } from './helpers/python';

const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-sections-'));
const at = (...parts: string[]) => path.join(dir, ...parts);

function expectDataError(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(isUserError(err) && err.type === 'DataError', String(err));
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" names ${f}`);
    assert.ok(err.details.fix, 'a fix');
    return true;
  });
}

describe('NiftyNet folder search (path_to_search): the subject ids NiftyNet 0.6.0 gives the same files', () => {
  // Folder a has the kinds of names NiftyNet's id rule meets (non-word characters, no id left, a run of names without
  // ids, which NiftyNet 0.6.0 drops while iterating, shifting ids onto other files); c has two files of one id.
  const names = {
    a: ['sub01_T1.nii.gz', 'sub02_T1.nii.gz', 'sub-03 T1.nii', 'notes.txt', 'sub04_T1_mask.nii.gz', 'T1-T1.nii', 'T1.nii.gz',
      'T1T1.nii', 'T1T1y.nii', 'T1T1~.nii', 'a.b_T1.tar.gz', 'T1x.nii', 'sub06_T1_T2.nii.gz', 'ünï_T1.nii', '.hidden_T1'],
    b: ['sub05_T1.nii.gz', 'case_7.nii.gz', 'case_8.nii'],
    c: ['sub01_T1.nii.gz', 'sub01_T1_copy.nii.gz'],
  };
  before(() => {
    for (const [folder, files] of Object.entries(names)) {
      mkdirSync(at('search', folder), { recursive: true });
      for (const f of files) writeFileSync(at('search', folder, f), '');
    }
  });
  const sections: Array<Record<string, string | string[]>> = [
    { path_to_search: at('search', 'a') },
    { path_to_search: `${at('search', 'a')},${at('search', 'b')}`, filename_contains: ['T1'] },
    { path_to_search: `${at('search', 'a')}, ${at('search', 'b')}`, filename_contains: ['T1'], filename_not_contains: ['mask', 'x'] },
    { path_to_search: at('search', 'a'), filename_contains: ['T1', 'sub'] },
    { path_to_search: at('search', 'a'), filename_contains: ['T1'], filename_removefromid: '_T1.*' },
    { path_to_search: at('search', 'b'), filename_contains: ['case'] },
    { path_to_search: at('search', 'b'), filename_contains: ['nothing-has-this'] },
    { path_to_search: at('search', 'c'), filename_contains: ['T1'] },
    { path_to_search: at('search', 'c'), filename_contains: ['T1'], filename_not_contains: ['copy'] },
  ];

  test('every section gives NiftyNet\'s rows (subject id, file), or an error where NiftyNet raises one', async () => {
    const jobs = at('search-jobs.json');
    writeFileSync(jobs, JSON.stringify(sections));
    const reference = JSON.parse(await runPython('niftynet_search.py', [jobs])) as Array<{ rows?: [string, string][]; error?: string }>;
    assert.equal(reference.length, sections.length);
    reference.forEach((ref, i) => {
      const field = `data.inputs.s${i}.path_to_search`;
      if (ref.error) {
        expectDataError(() => searchSection(sections[i] as never, `s${i}`, field), `[s${i}]`);
        return;
      }
      // NiftyNet visits the folders in the order of a Python set; thaw sorts them. Rows are compared as a set.
      const ours = [...searchSection(sections[i] as never, `s${i}`, field)].sort();
      assert.deepEqual(ours, [...ref.rows!].sort(), `section ${i}: ${JSON.stringify(sections[i])}`);
    });
    assert.ok(reference.filter((r) => r.rows).length >= 6 && reference.filter((r) => r.error).length >= 2, 'both outcomes are exercised');
  });
});

describe('NIfTI data from input sections', () => {
  const shape = [6, 5, 4];
  const subjects = ['s1', 's2', 's3'];
  before(async () => {
    mkdirSync(at('cases'), { recursive: true });
    const jobs = subjects.flatMap((s, i) => [
      { kind: 'write_volume', file: at('cases', `${s}_t1.nii.gz`), shape, seed: 10 + i },
      { kind: 'write_volume', file: at('cases', `${s}_t2.nii.gz`), shape, seed: 20 + i },
      { kind: 'write_volume', file: at('cases', `${s}_seg.nii.gz`), shape, seed: 30 + i, classes: 3 },
    ]);
    jobs.push({ kind: 'write_volume', file: at('cases', 'small_t2.nii.gz'), shape: [6, 5, 3], seed: 1 });
    await nibabel(jobs);
    // NiftyNet's csv_file rows: subject_id,path (no header); relative paths are the CSV folder's, blanks allowed.
    const csv = (suffix: string, rows = subjects) => rows.map((s) => `${s}, ../cases/${s}_${suffix}.nii.gz`).join('\n');
    mkdirSync(at('csv'), { recursive: true });
    writeFileSync(at('csv', 't1.csv'), `${csv('t1')}\n`);
    writeFileSync(at('csv', 't2.csv'), `${csv('t2', ['s3', 's2', 's1'])}\n`);
    writeFileSync(at('csv', 'seg.csv'), csv('seg'));
    writeFileSync(at('csv', 'split.csv'), 's1,training\ns2,Validation\ns3,training\n');
  });
  const config = (over: Partial<NiftiDataConfig>): NiftiDataConfig => ({
    kind: 'nifti', spatial_size: [4, 4, 4], normalisation: 'zscore', num_classes: 3,
    inputs: { T1: { csv_file: 'csv/t1.csv' }, T2: { csv_file: 'csv/t2.csv' }, label: { csv_file: 'csv/seg.csv' } },
    image: ['T1', 'T2'], label: 'label', ...over,
  });

  test('cases join the sections on subject id; the split file keeps its training rows', () => {
    const cases = findNiftiCases(config({}), dir);
    assert.deepEqual(cases.map((c) => [c.subject, ...c.images.map((f) => path.basename(f)), path.basename(c.label)]), [
      ['s1', 's1_t1.nii.gz', 's1_t2.nii.gz', 's1_seg.nii.gz'],
      ['s2', 's2_t1.nii.gz', 's2_t2.nii.gz', 's2_seg.nii.gz'],
      ['s3', 's3_t1.nii.gz', 's3_t2.nii.gz', 's3_seg.nii.gz'],
    ]);
    assert.deepEqual(findNiftiCases(config({ dataset_split_file: 'csv/split.csv' }), dir).map((c) => c.subject), ['s1', 's3']);
  });

  test('each modality is a channel, in the order image names them: channel c is that section alone', () => {
    // The label section first: subjects take the order of the first section used, the same in all four sources.
    const inputs = { label: { csv_file: 'csv/seg.csv' }, T1: { csv_file: 'csv/t1.csv' }, T2: { csv_file: 'csv/t2.csv' } };
    const both = makeDataSource(config({ inputs }), { seed: 5, baseDir: dir });
    const swapped = makeDataSource(config({ inputs, image: ['T2', 'T1'] }), { seed: 5, baseDir: dir });
    const alone = ['T1', 'T2'].map((m) => makeDataSource(config({ inputs, image: [m] }), { seed: 5, baseDir: dir }));
    assert.deepEqual([both.channels, alone[0].channels], [2, 1]);
    for (const iteration of [0, 3]) {
      const [b, s, t1, t2] = [both, swapped, ...alone].map((source) => source.batch(iteration, 2));
      assert.deepEqual(b.shape, [2, 4, 4, 4, 2]);
      for (let v = 0; v < t1.images.length; v++) {
        if (b.images[2 * v] !== t1.images[v] || b.images[2 * v + 1] !== t2.images[v]) assert.fail(`voxel ${v}: channels are not [T1, T2]`);
        if (s.images[2 * v] !== t2.images[v] || s.images[2 * v + 1] !== t1.images[v]) assert.fail(`voxel ${v}: swapped image does not swap the channels`);
      }
      assert.deepEqual(b.labels, t1.labels, 'the labels are the same crops');
    }
  });

  test('broken sections are DataErrors naming the section, the file and the line', () => {
    writeFileSync(at('csv', 'missing-s2.csv'), 's1,../cases/s1_t2.nii.gz\ns3,../cases/s3_t2.nii.gz\n');
    expectDataError(() => findNiftiCases(config({ inputs: { ...config({}).inputs, T2: { csv_file: 'csv/missing-s2.csv' } } }), dir), 'subject s2', '[T2]');
    writeFileSync(at('csv', 'split-unknown.csv'), 's1,training\ns9,training\n');
    expectDataError(() => findNiftiCases(config({ dataset_split_file: 'csv/split-unknown.csv' }), dir), 'split-unknown.csv', 's9');
    writeFileSync(at('csv', 'split-phase.csv'), 's1,train\n');
    expectDataError(() => findNiftiCases(config({ dataset_split_file: 'csv/split-phase.csv' }), dir), 'split-phase.csv:1', 'training, validation, inference');
    writeFileSync(at('csv', 'dup.csv'), 's1,../cases/s1_t1.nii.gz\ns1,../cases/s2_t1.nii.gz\n');
    expectDataError(() => findNiftiCases(config({ inputs: { ...config({}).inputs, T1: { csv_file: 'csv/dup.csv' } } }), dir), 'dup.csv:2', 'line 1');
    writeFileSync(at('csv', 'gone.csv'), 's1,../cases/nope.nii.gz\n');
    expectDataError(() => findNiftiCases(config({ inputs: { ...config({}).inputs, T1: { csv_file: 'csv/gone.csv' } } }), dir), 'gone.csv:1', 'nope.nii.gz');
    expectDataError(() => findNiftiCases(config({ image: ['T1', 'FLAIR'] }), dir), 'FLAIR');
    writeFileSync(at('csv', 'small.csv'), 's1,../cases/small_t2.nii.gz\ns2,../cases/small_t2.nii.gz\ns3,../cases/small_t2.nii.gz\n');
    expectDataError(() => makeDataSource(config({ inputs: { ...config({}).inputs, T2: { csv_file: 'csv/small.csv' } } }), { seed: 0, baseDir: dir }), 'small_t2', 'differs', 'subject s1');
  });
});
