/**
 * `thaw import` on the real NiftyNet configs of the fixtures: the BraTS staged-unfreezing study (study_1, four files
 * run one after another) becomes a 4-stage pipeline whose per-stage frozen and trained sets are NiftyNet's rule
 * (`vars_to_freeze or vars_to_restore`, re.search on name + ':0', over the trainable variables) applied by Python to
 * the real checkpoint listing of that study; the prostate training config imports and checks. Only the paths of the
 * configs are pointed at a small local copy of their data and model folders; every other line is the real file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { findNiftiCases } from '../lib/data/nifti-cases';
import { isUserError } from '../lib/errors';
import { formatImportNote, importNiftyNetConfigs, type ImportedPipeline } from '../lib/niftynet/import';
import { importedPipelineText } from '../lib/niftynet/pipeline-text';
import { parsePipelineSource } from '../lib/pipeline/load';
import type { NiftiDataConfig } from '../lib/pipeline/plan';
import { checkPlan, type PreflightReport } from '../lib/selection/preflight';
import { resolveStartingCheckpoint } from '../lib/checkpoint';
import { runMainInProcess } from './helpers/cli';
import { SHARED_DIR } from './helpers/fixtures';
import { nibabel, runPython } from './helpers/python';

const NIFTYNET = path.join(SHARED_DIR, 'fixtures', 'niftynet');
const BRATS = path.join(NIFTYNET, 'configs-brats-staged-unfreezing', 'config', 'brats');
const STUDY = ['brats_tl_freez_0', 'brats_tl_freez_1', 'brats_tl_freez_2', 'brats_tl_freez_3'];
const PROSTATE = path.join(NIFTYNET, 'highres3dnet-prostate', 'config_train.ini');
const root = mkdtempSync(path.join(os.tmpdir(), 'thaw-import-'));
const latestIteration = async (dir: string) => (await resolveStartingCheckpoint(dir, -1))?.iteration ?? null;

/** A copy of a real config with some path prefixes replaced; asserts that only lines of those path keys changed. */
function pointAt(file: string, out: string, replace: Array<[string, string]>, keys: string[]): string {
  const text = readFileSync(file, 'utf8');
  let copy = text;
  for (const [from, to] of replace) copy = copy.split(from).join(to);
  const [a, b] = [text.split('\n'), copy.split('\n')];
  assert.equal(a.length, b.length);
  const changed = a.flatMap((line, i) => (line === b[i] ? [] : [line.split('=')[0].trim()]));
  assert.ok(changed.length > 0 && changed.every((k) => keys.includes(k)), `only path lines change: ${changed.join(', ')}`);
  writeFileSync(out, copy);
  return out;
}

async function check(imported: ImportedPipeline, files: string[], yaml: string): Promise<PreflightReport> {
  writeFileSync(yaml, importedPipelineText(imported, files, yaml));
  const { plan, locate } = parsePipelineSource(readFileSync(yaml, 'utf8'), yaml);
  return checkPlan(plan, { locate });
}

describe('thaw import: the BraTS staged-unfreezing study (study_1) as one pipeline', () => {
  const csv = path.join(root, 'brats', 'csv');
  const models = path.join(root, 'brats', 'models');
  let files: string[];
  let imported: ImportedPipeline;
  let report: PreflightReport;
  /** Per file, as Python's configparser reads it: its [TRAINING] section. */
  let training: Array<Record<string, string>>;
  /** The real listing of the study's checkpoint, and Python's re.search(pattern, name + ':0') over it. */
  let listing: [string, number[]][];
  let matches: Record<string, string[]>;

  before(async () => {
    mkdirSync(csv, { recursive: true });
    const replace: Array<[string, string]> = [
      ['/home/sathiesh/niftynet_brain/csv/brats/study/case_1/', `${csv}/`],
      ['/data-nas/sathiesh/niftynet_brain/models/brats_study/study1/', `${models}/`],
    ];
    files = STUDY.map((name) => pointAt(path.join(BRATS, 'study_1', `${name}.ini`), path.join(root, 'brats', `${name}.ini`), replace, ['csv_file', 'model_dir', 'dataset_split_file']));
    // Two subjects of T1, T2 and a label map on the configs' 96³ window; the split file NiftyNet would read.
    const shape = [96, 96, 96];
    await nibabel(['c1', 'c2'].flatMap((s, i) => [
      { kind: 'write_volume', file: path.join(csv, `${s}_t1.nii.gz`), shape, seed: i },
      { kind: 'write_volume', file: path.join(csv, `${s}_t2.nii.gz`), shape, seed: 10 + i },
      { kind: 'write_volume', file: path.join(csv, `${s}_seg.nii.gz`), shape, seed: 20 + i, classes: 2 },
    ]));
    for (const [section, suffix] of [['t1', 't1'], ['t2', 't2'], ['labels', 'seg']]) {
      writeFileSync(path.join(csv, `${section}.csv`), ['c1', 'c2'].map((s) => `${s},${path.join(csv, `${s}_${suffix}.nii.gz`)}`).join('\n'));
    }
    writeFileSync(path.join(csv, 'dataset_split.csv'), 'c1,training\nc2,training\n');
    const configs = JSON.parse(await runPython('ini_reference.py', files)) as Array<{ sections: [string, [string, string][]][] }>;
    training = configs.map((c) => Object.fromEntries(c.sections.find(([name]) => name === 'TRAINING')![1]));
    const patterns = [...new Set(training.flatMap((t) => [t.vars_to_freeze, t.vars_to_restore]).filter(Boolean))];
    writeFileSync(path.join(root, 'patterns.json'), JSON.stringify(patterns));
    ({ listing, matches } = JSON.parse(await runPython('niftynet_fixtures.py', ['regex', path.join(BRATS, 'net_vars.txt'), path.join(root, 'patterns.json')])) as {
      listing: [string, number[]][]; matches: Record<string, string[]>;
    });
    // The study's pretrained checkpoint (the real listing, values made up) in layer0, where starting_iter = -1 looks.
    const listingFile = path.join(root, 'net_vars_listing.txt');
    writeFileSync(listingFile, listing.map(([name, shape]) => `${name} [${shape.join(', ')}]`).join('\n'));
    mkdirSync(path.join(models, 'layer0', 'models'), { recursive: true });
    await runPython('niftynet_fixtures.py', ['standin', listingFile, path.join(models, 'layer0', 'models', 'model.ckpt-3000'), '7']);

    imported = await importNiftyNetConfigs(files, { latestIteration });
    report = await check(imported, files, path.join(root, 'brats', 'pipeline.yaml'));
  });

  test('four stages, a chain in the order given, checked runnable', () => {
    assert.deepEqual(report.errors, []);
    assert.ok(report.ok);
    assert.deepEqual(report.stages.map((s) => [s.name, s.after]), [
      ['brats_tl_freez_0', null], ['brats_tl_freez_1', 'brats_tl_freez_0'], ['brats_tl_freez_2', 'brats_tl_freez_1'], ['brats_tl_freez_3', 'brats_tl_freez_2'],
    ]);
  });

  test('iterations are what NiftyNet trained: max_iter − where each file started (-1: the checkpoint found)', () => {
    const trained = training.map((t, i) => Number(t.max_iter) - (i === 0 ? 3000 : Number(t.starting_iter)));
    assert.deepEqual(report.stages.map((s) => s.endIteration - s.startIteration), trained);
    assert.equal(report.stages[0].startIteration, 3000);
    assert.equal(path.basename(report.stages[0].restoreFrom ?? ''), 'model.ckpt-3000');
  });

  test('each stage freezes and trains what NiftyNet\'s rule gives on the study\'s real listing', () => {
    const names = new Set(listing.map(([n]) => n));
    const trainable = listing.map(([n]) => n).filter((n) => names.has(`${n}/Adam`));
    assert.equal(trainable.length, 63);
    training.forEach((t, i) => {
      const freeze = t.vars_to_freeze || t.vars_to_restore; // segmentation_application.py
      const frozen = new Set(freeze ? matches[freeze] : []);
      const expected = { frozen: trainable.filter((n) => frozen.has(n)).sort(), trained: trainable.filter((n) => !frozen.has(n)).sort() };
      const selection = report.stages[i].selection;
      assert.deepEqual({ frozen: [...selection.frozen].sort(), trained: [...selection.trained].sort() }, expected, STUDY[i]);
    });
  });

  test('where the files say otherwise than a chain, the warning says so at the line', () => {
    const text = readFileSync(files[1], 'utf8').split('\n');
    const line = text.findIndex((l) => l.startsWith('starting_iter')) + 1;
    const note = imported.warnings.find((w) => w.file === files[1] && w.key === '[TRAINING] starting_iter');
    assert.ok(note, imported.warnings.map(formatImportNote).join('\n'));
    assert.equal(note.line, line);
    assert.match(note.message, /model\.ckpt-5558/);
    assert.match(note.message, /brats_tl_freez_0's final checkpoint/);
    // Keys that are not carried over are listed with their line, and said once for the chain.
    const foreground = imported.warnings.filter((w) => w.key === '[NETWORK] foreground_type');
    assert.deepEqual(foreground.map((w) => w.file), [files[0]]);
    assert.equal(foreground[0].line, readFileSync(files[0], 'utf8').split('\n').findIndex((l) => l.startsWith('foreground_type')) + 1);
    assert.equal((imported.pipeline.data as NiftiDataConfig).window_sampling, 'weighted', 'window_sampling = weighted, by the label map (sampler = label)');
  });

  test('thaw import writes the YAML, refuses to overwrite it, and the data is NiftyNet\'s sections', async () => {
    const out = path.join(root, 'brats', 'cli.yaml');
    const first = await runMainInProcess(['import', ...files, '-o', out]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /4 stage\(s\) from 4 file\(s\)/);
    assert.match(first.stderr, /warning: .*brats_tl_freez_1\.ini:\d+: \[TRAINING\] starting_iter/);
    const again = await runMainInProcess(['import', ...files, '-o', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: give --force/);
    const { plan } = parsePipelineSource(readFileSync(out, 'utf8'), out);
    const cases = findNiftiCases(plan.stages[0].data as NiftiDataConfig, path.dirname(out));
    assert.deepEqual(cases.map((c) => [c.subject, c.images.map((f) => path.basename(f)), path.basename(c.label)]), [
      ['c1', ['c1_t1.nii.gz', 'c1_t2.nii.gz'], 'c1_seg.nii.gz'], ['c2', ['c2_t1.nii.gz', 'c2_t2.nii.gz'], 'c2_seg.nii.gz'],
    ]);
  });
});

describe('thaw import: NiftyNet\'s freeze rule where only vars_to_restore is given (brats_tl_unfreez)', () => {
  test('freeze = vars_to_restore, as NiftyNet does: ^((?!(Adam)).)*$ freezes every trainable variable, and check says the stage trains nothing', async () => {
    const dir = path.join(root, 'unfreez');
    const csvDir = path.join(root, 'brats', 'csv'); // the study's data, written by the describe above
    const config = path.join(NIFTYNET, 'configs-brats-staged-unfreezing', 'config', 'brats_unfreez_brats_tl_unfreez@7c641bc.ini');
    mkdirSync(path.join(dir, 'models', 'models'), { recursive: true });
    const file = pointAt(config, path.join(dir, 'unfreez.ini'), [
      ['/home/sathiesh/niftynet_brain/csv/brats/', `${csvDir}/`], ['/data-nas/sathiesh/niftynet_brain/models/brats', path.join(dir, 'models')],
    ], ['csv_file', 'model_dir']);
    for (const [from, to] of [['orig_t1.csv', 't1.csv'], ['orig_t2.csv', 't2.csv']]) writeFileSync(path.join(csvDir, from), readFileSync(path.join(csvDir, to)));
    // The checkpoint this config restored: the real listing of the study's checkpoint after a frozen stage.
    const listingText = path.join(NIFTYNET, 'configs-brats-staged-unfreezing', 'config', 'brats_unfreez_net_vars@7c641bc.txt');
    writeFileSync(path.join(dir, 'patterns.json'), '["^((?!(Adam)).)*$"]');
    const { listing, matches } = JSON.parse(await runPython('niftynet_fixtures.py', ['regex', listingText, path.join(dir, 'patterns.json')])) as {
      listing: [string, number[]][]; matches: Record<string, string[]>;
    };
    writeFileSync(path.join(dir, 'listing.txt'), listing.map(([name, shape]) => `${name} [${shape.join(', ')}]`).join('\n'));
    await runPython('niftynet_fixtures.py', ['standin', path.join(dir, 'listing.txt'), path.join(dir, 'models', 'models', 'model.ckpt-14302'), '3']);
    const imported = await importNiftyNetConfigs([file], { latestIteration });
    const stage = (imported.pipeline.stages as Array<Record<string, unknown>>)[0];
    assert.deepEqual([stage.vars_to_restore, stage.vars_to_freeze, stage.iterations], ['^((?!(Adam)).)*$', '^((?!(Adam)).)*$', 15000 - 14302]);
    const report = await check(imported, [file], path.join(dir, 'pipeline.yaml'));
    // What NiftyNet restores: every variable whose name + ':0' the regex matches (no Adam slot).
    const restored = [...report.stages[0].selection.restored].sort();
    assert.deepEqual(restored, [...matches['^((?!(Adam)).)*$']].sort());
    assert.equal(report.stages[0].selection.trained.length, 0);
    assert.ok(report.errors.some((e) => e.code === 'NothingToTrain'), report.errors.map((e) => e.message).join('\n'));
  });
});

describe('thaw import: the prostate training config (folder search, one channel)', () => {
  test('imports and checks runnable, its sections found by NiftyNet\'s search', async () => {
    const data = path.join(root, 'prostate');
    const folders = ['picture_images', 'Promise12_Training_Images', 'picture_masks', 'Promise12_training_masks'];
    for (const f of folders) mkdirSync(path.join(data, f), { recursive: true });
    await nibabel(['Case00', 'Case01'].flatMap((c, i) => [
      { kind: 'write_volume', file: path.join(data, folders[i], `${c}.nii.gz`), shape: [64, 64, 64], seed: i },
      { kind: 'write_volume', file: path.join(data, folders[i + 2], `${c}.nii.gz`), shape: [64, 64, 64], seed: 5 + i, classes: 2 },
    ]));
    const file = pointAt(PROSTATE, path.join(data, 'config_train.ini'), [
      ['/cluster/project0/PCDDL/phd_project/segmentation/data/', `${data}/`],
      ['/cluster/project0/PCDDL/phd_project/segmentation/PICTURE_PROMISE12_TRAIN_PROSTATEX_TEST/', `${data}/run/`],
    ], ['path_to_search', 'model_dir', 'dataset_split_file', 'histogram_ref_file']);
    const imported = await importNiftyNetConfigs([file], { latestIteration });
    const report = await check(imported, [file], path.join(data, 'pipeline.yaml'));
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.stages.map((s) => [s.name, s.startIteration, s.endIteration, s.selection.trained.length]), [['config_train', 0, 20000, 63]]);
    const stage = imported.pipeline.stages as Array<Record<string, unknown>>;
    assert.deepEqual([stage[0].lr, stage[0].batch_size, stage[0].save_every_n, stage[0].max_checkpoints], [0.001, 4, 100, 500]);
    const { plan } = parsePipelineSource(readFileSync(path.join(data, 'pipeline.yaml'), 'utf8'), path.join(data, 'pipeline.yaml'));
    assert.deepEqual(findNiftiCases(plan.stages[0].data as NiftiDataConfig, data).map((c) => c.subject).sort(), ['Case00', 'Case01']);
    assert.equal((imported.pipeline.data as NiftiDataConfig).window_sampling, 'balanced');
    for (const key of ['[NETWORK] histogram_ref_file', '[NETWORK] cutoff', '[SYSTEM] dataset_split_file', '[TRAINING] rotation_angle']) {
      assert.ok(imported.warnings.some((w) => w.key === key && w.line !== null), `${key} is reported: ${imported.warnings.map(formatImportNote).join('\n')}`);
    }
  });
});

describe('thaw import: configs it cannot import, each named with file:line and the fix', () => {
  const base = readFileSync(path.join(BRATS, 'study_1', 'brats_tl_freez_1.ini'), 'utf8');
  const write = (name: string, text: string) => {
    const file = path.join(root, 'bad', name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };
  const refuse = async (file: string, ...fragments: string[]) => {
    await assert.rejects(importNiftyNetConfigs([file], { latestIteration: async () => null }), (err: unknown) => {
      assert.ok(isUserError(err) && err.type === 'NiftyNetConfigError', String(err));
      for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" names ${f}`);
      assert.ok(err.details.fix, 'a fix');
      return true;
    });
  };

  test('a regex Python rejects, a repeated key, no [SEGMENTATION], nothing to train, an unknown optimiser', async () => {
    const lineOf = (text: string, key: string) => text.split('\n').findIndex((l) => l.startsWith(key)) + 1;
    const badRegex = base.replace('vars_to_freeze = ^((?!HighRes3DNet\\/(res_1|res_2|res_3|conv_1|conv_2)).)*$', 'vars_to_freeze = ^((?!HighRes3DNet\\/(res_1|conv_2)).*$');
    assert.notEqual(badRegex, base);
    await refuse(write('regex.ini', badRegex), `regex.ini:${lineOf(badRegex, 'vars_to_freeze')}`, '[TRAINING] vars_to_freeze');
    await refuse(write('twice.ini', base.replace('lr = 0.0001', 'lr = 0.0001\nLR = 0.1')), `twice.ini:${lineOf(base, 'lr =') + 1}`, 'lr is set again');
    await refuse(write('regression.ini', base.replace('[SEGMENTATION]', '[REGRESSION]')), 'REGRESSION', '[SEGMENTATION]');
    await refuse(write('short.ini', base.replace('max_iter = 10000', 'max_iter = 5000')), `short.ini:${lineOf(base, 'max_iter')}`, 'nothing to train');
    await refuse(write('optimiser.ini', base.replace('[TRAINING]', '[TRAINING]\noptimiser = adadelta')), 'optimiser.ini:', 'adadelta');
  });

  test('an input section [SEGMENTATION] does not use is a warning at its line, not dropped silently', async () => {
    const file = write('extra.ini', base.replace('[SYSTEM]', '[FLAIR]\ncsv_file = flair.csv\n\n[SYSTEM]'));
    const imported = await importNiftyNetConfigs([file], { latestIteration: async () => null });
    const note = imported.warnings.find((w) => w.key === '[FLAIR]');
    assert.ok(note);
    assert.equal(note.line, readFileSync(file, 'utf8').split('\n').indexOf('[FLAIR]') + 1);
    assert.ok(!imported.warnings.some((w) => w.key === '[FLAIR] csv_file'), 'said once, for the section');
  });
});
