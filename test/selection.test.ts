/**
 * Selection and preflight on a real TensorFlow checkpoint, written by tf.compat.v1 the way a NiftyNet stage that froze
 * part of the network leaves it: DenseVNet/conv_1 and conv_2 frozen (no Adam slots), skip_conv and fin_conv trained.
 * The network's variables are given as a plain list mirroring that graph.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listVariables } from '../lib/checkpoint';
import { parsePipeline } from '../lib/pipeline/load';
import type { VariableSpec } from '../lib/training/networks/variable-spec';
import { preflight, type PreflightReport } from '../lib/selection/preflight';
import type { Problem } from '../lib/selection/problems';
import { runPython } from './helpers/python';

const ITERATION = 300;

function convBn(layer: string, shape: number[]): VariableSpec[] {
  const channels = shape.slice(-1);
  const bn = (name: string, role: VariableSpec['role'], trainable: boolean): VariableSpec => ({
    name: `${layer}/bn_/${name}`, shape: channels, dtype: 'float32', trainable, role, layer,
  });
  return [
    { name: `${layer}/w`, shape, dtype: 'float32', trainable: true, role: 'weight', layer },
    bn('beta', 'bn_beta', true), bn('gamma', 'bn_gamma', true),
    bn('moving_mean', 'bn_moving_mean', false), bn('moving_variance', 'bn_moving_variance', false),
  ];
}

function convBias(layer: string, shape: number[]): VariableSpec[] {
  return [
    { name: `${layer}/w`, shape, dtype: 'float32', trainable: true, role: 'weight', layer },
    { name: `${layer}/b`, shape: shape.slice(-1), dtype: 'float32', trainable: true, role: 'bias', layer },
  ];
}

/** The graph sel_niftynet_checkpoint.py builds, as a network definition would list it. */
const NETWORK: VariableSpec[] = [
  ...convBn('DenseVNet/conv_1', [3, 3, 1, 4]),
  ...convBn('DenseVNet/conv_2', [3, 3, 4, 4]),
  ...convBias('DenseVNet/skip_conv', [1, 1, 4, 4]),
  ...convBias('DenseVNet/fin_conv', [1, 1, 4, 2]),
];
const names = (prefix: string, ...suffixes: string[]) => suffixes.map((s) => `DenseVNet/${prefix}/${s}`);
const CONV_1_2_TRAINABLE = [...names('conv_1', 'w', 'bn_/beta', 'bn_/gamma'), ...names('conv_2', 'w', 'bn_/beta', 'bn_/gamma')];
const HEAD_TRAINABLE = [...names('skip_conv', 'w', 'b'), ...names('fin_conv', 'w', 'b')];

let dir: string;
let pipelineFile: string;
let tfListing: { name: string; dtype: string; shape: number[] }[];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'thaw-selection-'));
  pipelineFile = path.join(dir, 'pipeline.yaml');
  tfListing = JSON.parse(await runPython('sel_niftynet_checkpoint.py', [path.join(dir, 'run'), String(ITERATION)]));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pipeline from YAML (stages as YAML text), checked against the TF checkpoint with the network above. */
async function check(stagesYaml: string, options: { startingIter?: number; network?: VariableSpec[] } = {}): Promise<PreflightReport> {
  const yaml = [
    'name: selection-test',
    'model_dir: ./run',
    'network: {name: dense_vnet}',
    'data: {kind: synthetic, task: A, spatial_size: [8, 8]}',
    `starting_iter: ${options.startingIter ?? ITERATION}`,
    'stages:',
    stagesYaml.replace(/^\n/, ''),
  ].join('\n');
  const plan = parsePipeline(yaml, pipelineFile);
  return preflight(plan, { networkVariables: () => options.network ?? NETWORK });
}

function only(problems: Problem[], code: string): Problem {
  const found = problems.filter((p) => p.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got ${JSON.stringify(problems.map((p) => p.code))}`);
  return found[0];
}

const SEED_HEAD = String.raw`'^((?!DenseVNet\/(skip_conv|fin_conv)).)*$'`;
const NO_ADAM = String.raw`'^((?!(Adam)).)*$'`;

describe('the TensorFlow checkpoint', () => {
  it('is listed by thaw exactly as TensorFlow lists it: Adam slots only for the trained half', async () => {
    const mine = await listVariables(path.join(dir, 'run'));
    assert.deepEqual(mine.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })), tfListing);
    assert.ok(tfListing.some((v) => v.name === 'DenseVNet/skip_conv/w/Adam'));
    assert.ok(!tfListing.some((v) => v.name.startsWith('DenseVNet/conv_1/') && v.name.endsWith('Adam')));
  });
});

describe('a first stage from an existing checkpoint', () => {
  it("restores and freezes what vars_to_restore selects when vars_to_freeze is absent (the seed's rule)", async () => {
    const report = await check(`
  - name: new_head
    iterations: 50
    vars_to_restore: ${SEED_HEAD}`);
    assert.deepEqual(report.errors, []);
    const [stage] = report.stages;
    assert.equal(stage.startIteration, ITERATION);
    assert.equal(stage.endIteration, ITERATION + 50);
    assert.equal(stage.restoreFrom, path.join(dir, 'run', 'models', `model.ckpt-${ITERATION}`));
    assert.deepEqual(stage.selection.trained, HEAD_TRAINABLE);
    // Frozen: the trainable variables it restores, and the batch-norm statistics of those (frozen) layers.
    assert.deepEqual(stage.selection.frozen, [
      ...names('conv_1', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'),
      ...names('conv_2', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'),
    ]);
    assert.deepEqual(stage.selection.restored, [
      ...names('conv_1', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'),
      ...names('conv_2', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'),
      'beta1_power', 'beta2_power', 'global_step',
    ]);
    assert.deepEqual(stage.selection.initialised, [
      ...HEAD_TRAINABLE,
      ...HEAD_TRAINABLE.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]),
    ]);
    assert.deepEqual(stage.selection.slotsInitialised, []);
    const fate = Object.fromEntries(stage.variables.map((v) => [v.name, v.fate]));
    assert.equal(fate['DenseVNet/conv_1/w'], 'restored, frozen');
    assert.equal(fate['DenseVNet/skip_conv/w'], 'initialised, trained');
    assert.equal(fate['DenseVNet/skip_conv/w/Adam'], 'initialised, optimizer');
  });

  it('vars_to_freeze: [] freezes nothing', async () => {
    const report = await check(`
  - name: all
    iterations: 10
    vars_to_restore: ${NO_ADAM}
    vars_to_freeze: []`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.stages[0].selection.frozen, []);
    assert.deepEqual(report.stages[0].selection.trained, [...CONV_1_2_TRAINABLE.slice(0, 3), ...CONV_1_2_TRAINABLE.slice(3), ...HEAD_TRAINABLE]);
    // The seed's fix: no Adam slot is restored, so none can be missing.
    assert.ok(report.stages[0].selection.initialised.every((n) => n.endsWith('/Adam') || n.endsWith('/Adam_1')));
  });

  it('a plain resume (neither field) restores everything and initialises, and reports, the slots the checkpoint lacks', async () => {
    const report = await check(`
  - name: resume
    iterations: 10`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    const { selection } = report.stages[0];
    assert.deepEqual(selection.frozen, []);
    assert.deepEqual(selection.slotsInitialised, CONV_1_2_TRAINABLE.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]));
    assert.deepEqual(selection.initialised, selection.slotsInitialised);
    assert.equal(selection.restored.length, tfListing.length);
  });

  it("the Adam pitfall: a hand-written vars_to_restore that demands slots the checkpoint lacks", async () => {
    const report = await check(`
  - name: unfreeze
    iterations: 10
    vars_to_restore: '.*'
    vars_to_freeze: []`);
    assert.equal(report.ok, false);
    const problem = only(report.errors, 'MissingOptimizerSlots');
    assert.equal(problem.stage, 'unfreeze');
    assert.equal(problem.field, 'stages[0].vars_to_restore');
    assert.equal(problem.variables.length, 12);
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "unfreeze": stages[0].vars_to_restore: restores 12 optimizer slots that the starting checkpoint ` +
        `${path.join(dir, 'run', 'models', `model.ckpt-${ITERATION}`)} does not hold (DenseVNet/conv_1/w/Adam, DenseVNet/conv_1/w/Adam_1, ` +
        'DenseVNet/conv_1/bn_/beta/Adam, DenseVNet/conv_1/bn_/beta/Adam_1, DenseVNet/conv_1/bn_/gamma/Adam, DenseVNet/conv_1/bn_/gamma/Adam_1 and 6 more): ' +
        'the run that wrote it did not train DenseVNet/conv_1/w, DenseVNet/conv_1/bn_/beta, DenseVNet/conv_1/bn_/gamma, DenseVNet/conv_2/w, ' +
        'DenseVNet/conv_2/bn_/beta, DenseVNet/conv_2/bn_/gamma (they were frozen there), and TensorFlow creates optimizer slots only for trained variables\n' +
        "  Fix: restore everything except the optimizer slots with vars_to_restore: '^((?!(Adam)).)*$' (the slots then start from zero)",
    );
  });

  it('the NiftyNet #335 trap: ^((?!(Adam)).)*$ alone freezes everything', async () => {
    const report = await check(`
  - name: finetune
    iterations: 10
    vars_to_restore: ${NO_ADAM}`);
    assert.equal(
      only(report.errors, 'NothingToTrain').message,
      `${pipelineFile}: stage "finetune": stages[0].vars_to_freeze: the stage trains nothing: without vars_to_freeze, a first stage ` +
        "freezes what vars_to_restore selects (the seed's rule), and '^((?!(Adam)).)*$' selects all 10 trainable variables (the NiftyNet #335 trap)\n" +
        '  Fix: add vars_to_freeze naming what to keep fixed, or vars_to_freeze: [] to train everything that is restored',
    );
  });

  it('a restore pattern that matches nothing', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_restore: ['^UNet/', 'conv_1']
    vars_to_freeze: []`);
    const problem = only(report.errors, 'RestoreMatchesNothing');
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore[0]: the pattern '^UNet/' matches none of the 37 variables of the stage's graph ` +
        '(e.g. DenseVNet/conv_1/w, DenseVNet/conv_1/bn_/beta, DenseVNet/conv_1/bn_/gamma and 34 more)\n' +
        `  Fix: check the pattern against the checkpoint with "thaw vars <checkpoint> --match '^UNet/'"`,
    );
  });

  it('a shape mismatch names both shapes', async () => {
    const wider = NETWORK.map((v) => (v.name === 'DenseVNet/fin_conv/w' ? { ...v, shape: [1, 1, 4, 3] } : v.name === 'DenseVNet/fin_conv/b' ? { ...v, shape: [3] } : v));
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_restore: ${NO_ADAM}
    vars_to_freeze: []`, { network: wider });
    const problem = only(report.errors, 'ShapeMismatch');
    assert.deepEqual(problem.variables, ['DenseVNet/fin_conv/w', 'DenseVNet/fin_conv/b']);
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore: cannot restore 2 variables whose shape or dtype differs from the starting checkpoint ` +
        `${path.join(dir, 'run', 'models', `model.ckpt-${ITERATION}`)}: DenseVNet/fin_conv/w: network [1, 1, 4, 3] float32, checkpoint [1, 1, 4, 2] float32; ` +
        'DenseVNet/fin_conv/b: network [3] float32, checkpoint [2] float32\n' +
        '  Fix: leave them out of vars_to_restore so that they are initialised, or change network.params to match the checkpoint',
    );
  });

  it('a starting_iter that does not exist lists the ones that do', async () => {
    const report = await check(`
  - name: s
    iterations: 10`, { startingIter: 200 });
    const problem = only(report.errors, 'StartingCheckpoint');
    assert.equal(problem.stage, undefined);
    assert.equal(problem.field, 'starting_iter');
    const models = path.join(dir, 'run', 'models');
    assert.equal(
      problem.message,
      `${pipelineFile}: starting_iter 200: checkpoint ${path.join(models, 'model.ckpt-200')} does not exist (or is incomplete); iterations present in ${models}: ${ITERATION}\n` +
        '  Fix: set starting_iter to an existing iteration, -1 for the latest, or 0',
    );
  });

  it('starting_iter -1 finds the latest valid checkpoint', async () => {
    const report = await check(`
  - name: s
    iterations: 10`, { startingIter: -1 });
    assert.deepEqual(report.errors, []);
    assert.equal(report.stages[0].startIteration, ITERATION);
  });
});

describe('freeze patterns', () => {
  it('one that matches only batch-norm statistics, and one that matches nothing (with a :0 warning)', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_freeze: ['moving_(mean|variance)', 'conv_1/w:0']`);
    assert.equal(
      only(report.errors, 'FreezeMatchesNoTrainable').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[0]: the pattern 'moving_(mean|variance)' matches only variables that are not trainable ` +
        '(DenseVNet/conv_1/bn_/moving_mean, DenseVNet/conv_1/bn_/moving_variance, DenseVNet/conv_2/bn_/moving_mean, DenseVNet/conv_2/bn_/moving_variance); ' +
        'freezing applies to trainable variables\n' +
        '  Fix: select weights (…/w, …/b, bn_/gamma, bn_/beta); the batch-norm statistics of a frozen layer are frozen with it',
    );
    assert.equal(
      only(report.errors, 'FreezeMatchesNothing').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[1]: the pattern 'conv_1/w:0' matches none of the network's 14 variables ` +
        '(e.g. DenseVNet/conv_1/w, DenseVNet/conv_1/bn_/beta, DenseVNet/conv_1/bn_/gamma and 11 more)\n' +
        `  Fix: check the pattern with "thaw vars <checkpoint> --match 'conv_1/w:0'"`,
    );
    assert.equal(
      only(report.warnings, 'PatternHasColonZero').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[1]: the pattern 'conv_1/w:0' contains ":0", but checkpoint variable names have no ":0" suffix\n` +
        '  Fix: remove ":0" from the pattern',
    );
  });

  it('freezing part of a layer keeps its batch-norm statistics updating; freezing all of it freezes them', async () => {
    const report = await check(`
  - name: part
    iterations: 10
    vars_to_freeze: ['conv_1/w$', 'conv_2/']`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.stages[0].selection.frozen, [
      'DenseVNet/conv_1/w',
      ...names('conv_2', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'),
    ]);
  });

  it('a bad pattern is reported with its position, together with the other problems', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_freeze: ['conv_(1', 'moving_mean']`);
    assert.deepEqual(report.errors.map((e) => e.code), ['PatternError', 'FreezeMatchesNoTrainable']);
    assert.equal(
      report.errors[0].message,
      `${pipelineFile}: stages[0].vars_to_freeze[0]: bad regular expression: missing ), unterminated subpattern (position 5)\n` +
        '  conv_(1\n' +
        '       ^\n' +
        '  Fix: close the group with ")" (write "\\(" for a literal "(").',
    );
  });
});

describe('a hostile pattern in a pipeline', () => {
  it('ends in a PatternError problem within the time bound instead of hanging preflight', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_freeze: '^(.*)*x$'`);
    const problem = only(report.errors, 'PatternError');
    assert.equal(problem.field, 'stages[0].vars_to_freeze[0]');
    assert.match(problem.message, /took longer than 1000 ms .*a repeat nested in another repeat backtracks catastrophically \(position 3\)/);
  });
});

describe('a first stage from scratch', () => {
  it('restores nothing, freezes only what vars_to_freeze names, and warns about both', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_restore: 'conv'
    vars_to_freeze: 'conv_1/'`, { startingIter: 0 });
    assert.deepEqual(report.errors, []);
    const [stage] = report.stages;
    assert.equal(stage.restoreFrom, null);
    assert.equal(stage.startIteration, 0);
    assert.deepEqual(stage.selection.restored, []);
    assert.deepEqual(stage.selection.frozen, names('conv_1', 'w', 'bn_/beta', 'bn_/gamma', 'bn_/moving_mean', 'bn_/moving_variance'));
    assert.equal(
      only(report.warnings, 'RestoreIgnored').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore: vars_to_restore is given, but the stage starts from scratch (starting_iter: 0), so nothing is restored\n` +
        '  Fix: set starting_iter to the iteration of a checkpoint (or -1 for the latest), or remove vars_to_restore',
    );
    assert.equal(
      only(report.warnings, 'FreezesInitialised').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze: freezes 3 variables that start from random values (they are not restored): ` +
        'DenseVNet/conv_1/w, DenseVNet/conv_1/bn_/beta, DenseVNet/conv_1/bn_/gamma\n' +
        '  Fix: restore them from a checkpoint first, or do not freeze them',
    );
  });
});

describe('later stages continue from their parent', () => {
  const FIRST = `
  - name: head
    iterations: 50
    vars_to_restore: ${SEED_HEAD}`;

  it("restore everything the parent saved, freeze only what they name, initialise (and report) the slots it never had", async () => {
    const report = await check(`${FIRST}
  - name: all
    after: head
    iterations: 25
    vars_to_freeze: []
  - name: again
    after: all
    iterations: 25`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    const [, all, again] = report.stages;
    assert.equal(all.startIteration, ITERATION + 50);
    assert.equal(all.endIteration, ITERATION + 75);
    assert.equal(all.restoreFrom, path.join(dir, 'run', 'models', `model.ckpt-${ITERATION + 50}`));
    assert.deepEqual(all.selection.frozen, []);
    assert.deepEqual(all.selection.slotsInitialised, CONV_1_2_TRAINABLE.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]));
    assert.deepEqual(all.selection.initialised, all.selection.slotsInitialised);
    // The parent of `again` trained everything, so its checkpoint has every slot.
    assert.equal(again.startIteration, ITERATION + 75);
    assert.deepEqual(again.selection.slotsInitialised, []);
    assert.deepEqual(again.selection.initialised, []);
  });

  it('a hand-written vars_to_restore that demands slots the parent never created names the stage that froze them', async () => {
    const report = await check(`${FIRST}
  - name: all
    after: head
    iterations: 25
    vars_to_restore: 'DenseVNet/conv_1'
    vars_to_freeze: []`);
    const problem = only(report.errors, 'MissingOptimizerSlots');
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "all": stages[1].vars_to_restore: restores 6 optimizer slots that the checkpoint of stage "head" ` +
        `(${path.join(dir, 'run', 'models', `model.ckpt-${ITERATION + 50}`)}) does not hold (DenseVNet/conv_1/w/Adam, DenseVNet/conv_1/w/Adam_1, ` +
        'DenseVNet/conv_1/bn_/beta/Adam, DenseVNet/conv_1/bn_/beta/Adam_1, DenseVNet/conv_1/bn_/gamma/Adam, DenseVNet/conv_1/bn_/gamma/Adam_1): ' +
        'stage "head" froze DenseVNet/conv_1/w, DenseVNet/conv_1/bn_/beta, DenseVNet/conv_1/bn_/gamma (its vars_to_freeze), ' +
        'and TensorFlow creates optimizer slots only for trained variables\n' +
        "  Fix: restore everything except the optimizer slots with vars_to_restore: '^((?!(Adam)).)*$' (the slots then start from zero), " +
        'or leave vars_to_restore out: thaw then restores what the parent saved and initialises the missing slots',
    );
    // On the same data, not restoring what the parent trained throws that training away.
    assert.equal(
      only(report.warnings, 'DiscardsEarlierTraining').message,
      `${pipelineFile}: stage "all": stages[1].vars_to_restore: does not restore 4 variables that stage "head" trained on the same data, ` +
        'so they start from random values again: DenseVNet/skip_conv/w, DenseVNet/skip_conv/b, DenseVNet/fin_conv/w, DenseVNet/fin_conv/b\n' +
        '  Fix: restore them too (leave vars_to_restore out to restore everything the parent saved)',
    );
  });

  it('a fresh head on new data (restoring neither the head nor any slot) is not a contradiction', async () => {
    const report = await check(`${FIRST}
  - name: task_b
    after: head
    data: {task: B}
    iterations: 25
    vars_to_restore: '^((?!(skip_conv|fin_conv|Adam)).)*$'
    vars_to_freeze: []`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
  });
});
