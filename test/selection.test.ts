/**
 * Selection and preflight on a real NiftyNet checkpoint: NiftyNet 0.6.0's own DenseVNet class (small
 * hyper-parameters), trained one Adam step in TensorFlow the way a NiftyNet stage that froze part of the network
 * leaves it (test/python/sel_niftynet_checkpoint.py): the body frozen (no Adam slots), the head trained (the final
 * convolution DenseVNet/conv and each dense block's skip convolution DenseVNet/dense_feature_stack_block[_k]/
 * conv_bn_relu). The network's variables are the registry's `dense_vnet` with the same params (preflight's default),
 * so every name below is one that NiftyNet writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listVariables } from '../lib/checkpoint';
import { parsePipeline } from '../lib/pipeline/load';
import { checkPlan, type PreflightReport } from '../lib/selection/preflight';
import type { Problem } from '../lib/selection/problems';
import { getNetwork } from '../lib/training/networks';
import { isOptimizerStateName } from '../lib/training/optimizers/slot-names';
import { REPO_ROOT, runPython } from './helpers/python';

const ITERATION = 300;

/** NiftyNet DenseVNet hyper-parameters: two dense blocks of one layer each, the second without a down convolution. */
const PARAMS = {
  n_initial_conv_channels: 4,
  n_dense_channels: [2, 2],
  n_seg_channels: [2, 2],
  n_down_channels: [2, null],
  dilation_rates: [[1], [1]],
  in_channels: 1,
  num_classes: 2,
};
const NETWORK = getNetwork('dense_vnet').variables(PARAMS);

/** What does select DenseVNet's head: everything except it (pipelines/seed-densevnet.yaml). */
const HEAD = String.raw`^((?!DenseVNet\/(conv\/|dense_feature_stack_block(_\d)?\/conv_bn_relu\/)).)*$`;
/** The seed's own regex for "everything but the head", which names scopes no released DenseVNet has. */
const SEED_HEAD = String.raw`^((?!DenseVNet\/(skip_conv|fin_conv)).)*$`;
const NO_ADAM = String.raw`^((?!(Adam)).)*$`;

// The layers of this DenseVNet, in the network's order (NiftyNet's scopes).
const BATCH_NORM = 'DenseVNet/batch_norm'; // of the pooled input
const INITIAL = 'DenseVNet/conv_bn'; // strided 5×5×5 conv-bn
const DENSE_0 = 'DenseVNet/dense_feature_stack_block/dense_feature_stack_block/conv_bn_relu';
const SKIP_0 = 'DenseVNet/dense_feature_stack_block/conv_bn_relu';
const DOWN_0 = 'DenseVNet/dense_feature_stack_block/conv_bn_relu_1';
const DENSE_1 = 'DenseVNet/dense_feature_stack_block_1/dense_feature_stack_block/conv_bn_relu';
const SKIP_1 = 'DenseVNet/dense_feature_stack_block_1/conv_bn_relu';
const FINAL = 'DenseVNet/conv/conv_';

/** A batch norm's moving statistics and their zero-debias state, as TF's assign_moving_average names them. */
const statistics = (bn: string) => [
  `${bn}/moving_mean`, `${bn}/moving_variance`,
  `${bn}/${bn}/moving_mean/biased`, `${bn}/${bn}/moving_mean/local_step`,
  `${bn}/${bn}/moving_variance/biased`, `${bn}/${bn}/moving_variance/local_step`,
];
const convBnTrainable = (scope: string) => [`${scope}/conv_/w`, `${scope}/bn_/beta`, `${scope}/bn_/gamma`];
/** Every variable of a conv-bn(-relu) layer, in the network's order. */
const convBnAll = (scope: string) => [...convBnTrainable(scope), ...statistics(`${scope}/bn_`)];
const adam = (names: string[]) => names.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]);

const ALL_TRAINABLE = [
  `${BATCH_NORM}/beta`, `${BATCH_NORM}/gamma`,
  ...[INITIAL, DENSE_0, SKIP_0, DOWN_0, DENSE_1, SKIP_1].flatMap(convBnTrainable),
  `${FINAL}/w`, `${FINAL}/b`,
];
const HEAD_TRAINABLE = [...convBnTrainable(SKIP_0), ...convBnTrainable(SKIP_1), `${FINAL}/w`, `${FINAL}/b`];
const BODY_TRAINABLE = ALL_TRAINABLE.filter((n) => !HEAD_TRAINABLE.includes(n));
/** Every variable of the frozen body, in the network's order. */
const BODY_ALL = [`${BATCH_NORM}/beta`, `${BATCH_NORM}/gamma`, ...statistics(BATCH_NORM), ...[INITIAL, DENSE_0, DOWN_0, DENSE_1].flatMap(convBnAll)];
const HEAD_ALL = [...convBnAll(SKIP_0), ...convBnAll(SKIP_1), `${FINAL}/w`, `${FINAL}/b`];
const POWERS = ['ApplyGradients/beta1_power', 'ApplyGradients/beta2_power'];

let dir: string;
let pipelineFile: string;
let tfListing: { name: string; dtype: string; shape: number[] }[];
/** The variables NiftyNet's optimiser updated (var_list without what vars_to_freeze matched). */
let niftynetTrained: string[];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'thaw-selection-'));
  pipelineFile = path.join(dir, 'pipeline.yaml');
  const stdout = await runPython('sel_niftynet_checkpoint.py', [path.join(dir, 'run'), String(ITERATION), JSON.stringify(PARAMS), HEAD]);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { listing: typeof tfListing; trained: string[] };
  tfListing = result.listing;
  niftynetTrained = result.trained;
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface CheckOptions {
  startingIter?: number;
  /** Overrides of the network params (the checkpoint keeps PARAMS). */
  params?: Record<string, unknown>;
}

/** A pipeline from YAML (stages as YAML text), checked against the TF checkpoint with the registry's DenseVNet. */
async function check(stagesYaml: string, options: CheckOptions = {}): Promise<PreflightReport> {
  const network = { name: 'dense_vnet', params: { ...PARAMS, ...options.params } };
  const yaml = [
    'name: selection-test',
    'model_dir: ./run',
    `network: ${JSON.stringify(network)}`,
    'data: {kind: synthetic, task: A, spatial_size: [8, 8, 8]}',
    `starting_iter: ${options.startingIter ?? ITERATION}`,
    'stages:',
    stagesYaml.replace(/^\n/, ''),
  ].join('\n');
  return checkPlan(parsePipeline(yaml, pipelineFile));
}

function only(problems: Problem[], code: string): Problem {
  const found = problems.filter((p) => p.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got ${JSON.stringify(problems.map((p) => p.code))}`);
  return found[0];
}

const startPrefix = () => path.join(dir, 'run', 'models', `model.ckpt-${ITERATION}`);
const quoted = (p: string) => `'${p}'`;

describe('the NiftyNet checkpoint', () => {
  it('is listed by thaw exactly as TensorFlow lists it', async () => {
    const mine = await listVariables(path.join(dir, 'run'));
    assert.deepEqual(mine.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })), tfListing);
  });

  it("holds the registry's DenseVNet, Adam slots only for the trained head, ApplyGradients powers and no global_step", () => {
    const sorted = <T extends { name: string }>(vs: T[]) => [...vs].sort((a, b) => (a.name < b.name ? -1 : 1));
    const weights = tfListing.filter((v) => !isOptimizerStateName(v.name));
    assert.deepEqual(weights, sorted(NETWORK.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }))));
    assert.equal(NETWORK.length, 64);
    assert.deepEqual(NETWORK.filter((v) => v.trainable).map((v) => v.name), ALL_TRAINABLE);
    assert.deepEqual([...NETWORK.map((v) => v.name)].sort(), [...BODY_ALL, ...HEAD_ALL].sort());
    assert.deepEqual(niftynetTrained, HEAD_TRAINABLE);
    assert.deepEqual(tfListing.filter((v) => isOptimizerStateName(v.name)).map((v) => v.name), [...POWERS, ...adam(HEAD_TRAINABLE)].sort());
    assert.ok(!tfListing.some((v) => v.name.includes('global_step')));
  });
});

describe('a first stage from an existing checkpoint', () => {
  it("the seed's head regex excludes nothing on a real DenseVNet: preflight says so and names the real scopes", async () => {
    const report = await check(`
  - name: new_head
    iterations: 50
    vars_to_restore: ${quoted(SEED_HEAD)}`);
    // Under the seed's rule it freezes what it restores: everything.
    assert.deepEqual(report.errors.map((e) => e.code), ['NothingToTrain']);
    assert.equal(
      report.errors[0].message,
      `${pipelineFile}: stage "new_head": stages[0].vars_to_freeze: the stage trains nothing: without vars_to_freeze, a first stage ` +
        `freezes what vars_to_restore selects (the seed's rule), and '${SEED_HEAD}' selects all 22 trainable variables (the NiftyNet #335 trap)\n` +
        '  Fix: add vars_to_freeze naming what to keep fixed, or vars_to_freeze: [] to train everything that is restored',
    );
    const warning = only(report.warnings, 'PatternExcludesNothing');
    assert.equal(warning.field, 'stages[0].vars_to_restore[0]');
    assert.equal(
      warning.message,
      `${pipelineFile}: stage "new_head": stages[0].vars_to_restore[0]: the pattern '${SEED_HEAD}' matches all 66 variables, so it excludes nothing: ` +
        'no variable name contains "skip_conv" or "fin_conv"; the network\'s layer scopes are DenseVNet/batch_norm, DenseVNet/conv_bn, ' +
        'DenseVNet/dense_feature_stack_block, DenseVNet/dense_feature_stack_block_1, DenseVNet/conv\n' +
        '  Fix: name scopes that exist (list them with "thaw vars <checkpoint>"), e.g. exclude the final layer of the network',
    );
    assert.deepEqual(report.stages[0].selection.trained, []);
    assert.deepEqual(report.stages[0].selection.restored, [...NETWORK.map((v) => v.name), ...POWERS]);
  });

  it("the regex that does select the head restores and freezes the body when vars_to_freeze is absent (the seed's rule)", async () => {
    assert.ok(readFileSync(path.join(REPO_ROOT, 'pipelines', 'seed-densevnet.yaml'), 'utf8').includes(`vars_to_restore: '${HEAD}'`));
    const report = await check(`
  - name: new_head
    iterations: 50
    vars_to_restore: ${quoted(HEAD)}`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    const [stage] = report.stages;
    assert.equal(stage.startIteration, ITERATION);
    assert.equal(stage.endIteration, ITERATION + 50);
    assert.equal(stage.restoreFrom, startPrefix());
    // Exactly what NiftyNet trained with the same regex as vars_to_freeze.
    assert.deepEqual(stage.selection.trained, HEAD_TRAINABLE);
    assert.deepEqual(stage.selection.trained, niftynetTrained);
    // Frozen: the trainable variables it restores, and the batch-norm statistics of those (frozen) layers.
    assert.deepEqual(stage.selection.frozen, BODY_ALL);
    assert.deepEqual(stage.selection.restored, [...BODY_ALL, ...POWERS]);
    assert.deepEqual(stage.selection.initialised, [...HEAD_ALL, ...adam(HEAD_TRAINABLE)]);
    assert.deepEqual(stage.selection.slotsInitialised, []);
    const fate = Object.fromEntries(stage.variables.map((v) => [v.name, v.fate]));
    assert.equal(fate[`${INITIAL}/conv_/w`], 'restored, frozen');
    assert.equal(fate[`${BATCH_NORM}/${BATCH_NORM}/moving_mean/local_step`], 'restored, frozen');
    assert.equal(fate[`${SKIP_0}/conv_/w`], 'initialised, trained');
    assert.equal(fate[`${SKIP_1}/bn_/moving_variance`], 'initialised, statistics');
    assert.equal(fate[`${FINAL}/b/Adam_1`], 'initialised, optimizer');
    assert.equal(fate['ApplyGradients/beta1_power'], 'restored, optimizer');
  });

  it("frozen_batch_norm: batch (NiftyNet's behaviour) keeps the frozen layers' statistics updating", async () => {
    const report = await check(`
  - name: new_head
    iterations: 50
    frozen_batch_norm: batch
    vars_to_restore: ${quoted(HEAD)}`);
    assert.deepEqual(report.errors, []);
    const [stage] = report.stages;
    assert.deepEqual(stage.selection.frozen, BODY_TRAINABLE);
    const fate = Object.fromEntries(stage.variables.map((v) => [v.name, v.fate]));
    assert.equal(fate[`${INITIAL}/bn_/moving_mean`], 'restored, statistics');
    assert.equal(fate[`${INITIAL}/bn_/${INITIAL}/bn_/moving_mean/biased`], 'restored, statistics');
  });

  it('vars_to_freeze: [] freezes nothing', async () => {
    const report = await check(`
  - name: all
    iterations: 10
    vars_to_restore: ${quoted(NO_ADAM)}
    vars_to_freeze: []`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.stages[0].selection.frozen, []);
    assert.deepEqual(report.stages[0].selection.trained, ALL_TRAINABLE);
    // The seed's fix: no Adam slot is restored, so none can be missing; every other variable is.
    assert.deepEqual(report.stages[0].selection.restored, [...NETWORK.map((v) => v.name), ...POWERS]);
    assert.deepEqual(report.stages[0].selection.initialised, adam(ALL_TRAINABLE));
  });

  it('a plain resume (neither field) restores everything and initialises, and reports, the slots the checkpoint lacks', async () => {
    const report = await check(`
  - name: resume
    iterations: 10`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    const { selection } = report.stages[0];
    assert.deepEqual(selection.frozen, []);
    assert.deepEqual(selection.slotsInitialised, adam(BODY_TRAINABLE));
    assert.deepEqual(selection.initialised, selection.slotsInitialised);
    assert.deepEqual([...selection.restored].sort(), tfListing.map((v) => v.name));
  });

  it('the Adam pitfall: a hand-written vars_to_restore that demands slots the checkpoint lacks', async () => {
    const report = await check(`
  - name: unfreeze
    iterations: 10
    vars_to_restore: '.*'
    vars_to_freeze: []`);
    assert.equal(report.ok, false);
    const problem = only(report.errors, 'MissingOptimizerSlots');
    assert.equal(problem.stage, 'unfreeze');
    assert.equal(problem.field, 'stages[0].vars_to_restore');
    assert.deepEqual(problem.variables, adam(BODY_TRAINABLE));
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "unfreeze": stages[0].vars_to_restore: restores 28 optimizer slots that the starting checkpoint ` +
        `${startPrefix()} does not hold (DenseVNet/batch_norm/beta/Adam, DenseVNet/batch_norm/beta/Adam_1, ` +
        'DenseVNet/batch_norm/gamma/Adam, DenseVNet/batch_norm/gamma/Adam_1, DenseVNet/conv_bn/conv_/w/Adam, DenseVNet/conv_bn/conv_/w/Adam_1 and 22 more): ' +
        'the run that wrote it did not train DenseVNet/batch_norm/beta, DenseVNet/batch_norm/gamma, DenseVNet/conv_bn/conv_/w, ' +
        'DenseVNet/conv_bn/bn_/beta, DenseVNet/conv_bn/bn_/gamma, DenseVNet/dense_feature_stack_block/dense_feature_stack_block/conv_bn_relu/conv_/w ' +
        'and 8 more (they were frozen there), and TensorFlow creates optimizer slots only for trained variables\n' +
        "  Fix: restore everything except the optimizer slots with vars_to_restore: '^((?!(Adam)).)*$' (the slots then start from zero)",
    );
  });

  it('the NiftyNet #335 trap: ^((?!(Adam)).)*$ alone freezes everything', async () => {
    const report = await check(`
  - name: finetune
    iterations: 10
    vars_to_restore: ${quoted(NO_ADAM)}`);
    assert.equal(
      only(report.errors, 'NothingToTrain').message,
      `${pipelineFile}: stage "finetune": stages[0].vars_to_freeze: the stage trains nothing: without vars_to_freeze, a first stage ` +
        "freezes what vars_to_restore selects (the seed's rule), and '^((?!(Adam)).)*$' selects all 22 trainable variables (the NiftyNet #335 trap)\n" +
        '  Fix: add vars_to_freeze naming what to keep fixed, or vars_to_freeze: [] to train everything that is restored',
    );
  });

  it('a restore pattern that matches nothing', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_restore: ['^UNet/', '^DenseVNet/conv/']
    vars_to_freeze: []`);
    assert.deepEqual(report.errors.map((e) => e.code), ['RestoreMatchesNothing']);
    assert.equal(
      report.errors[0].message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore[0]: the pattern '^UNet/' matches none of the 110 variables of the stage's graph ` +
        '(e.g. DenseVNet/batch_norm/beta, DenseVNet/batch_norm/gamma, DenseVNet/batch_norm/moving_mean and 107 more)\n' +
        `  Fix: check the pattern against the checkpoint with "thaw vars <checkpoint> --match '^UNet/'"`,
    );
  });

  it('a shape mismatch names both shapes (num_classes 3 against a checkpoint of 2)', async () => {
    const report = await check(`
  - name: s
    iterations: 10
    vars_to_restore: ${quoted(NO_ADAM)}
    vars_to_freeze: []`, { params: { num_classes: 3 } });
    const problem = only(report.errors, 'ShapeMismatch');
    assert.deepEqual(problem.variables, [`${FINAL}/w`, `${FINAL}/b`]);
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore: cannot restore 2 variables whose shape or dtype differs from the starting checkpoint ` +
        `${startPrefix()}: DenseVNet/conv/conv_/w: network [3, 3, 3, 5, 3] float32, checkpoint [3, 3, 3, 5, 2] float32; ` +
        'DenseVNet/conv/conv_/b: network [3] float32, checkpoint [2] float32\n' +
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
    vars_to_freeze: ['moving_(mean|variance)', 'conv_bn/conv_/w:0']`);
    const statisticsProblem = only(report.errors, 'FreezeMatchesNoTrainable');
    assert.equal(statisticsProblem.variables.length, 42); // 7 batch norms × (2 statistics + 4 zero-debias variables)
    assert.equal(
      statisticsProblem.message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[0]: the pattern 'moving_(mean|variance)' matches only variables that are not trainable ` +
        '(DenseVNet/batch_norm/moving_mean, DenseVNet/batch_norm/moving_variance, DenseVNet/batch_norm/DenseVNet/batch_norm/moving_mean/biased, ' +
        'DenseVNet/batch_norm/DenseVNet/batch_norm/moving_mean/local_step, DenseVNet/batch_norm/DenseVNet/batch_norm/moving_variance/biased, ' +
        'DenseVNet/batch_norm/DenseVNet/batch_norm/moving_variance/local_step and 36 more); freezing applies to trainable variables\n' +
        '  Fix: select weights (…/w, …/b, bn_/gamma, bn_/beta); the batch-norm statistics of a frozen layer are frozen with it',
    );
    assert.equal(
      only(report.errors, 'FreezeMatchesNothing').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[1]: the pattern 'conv_bn/conv_/w:0' matches none of the network's 64 variables ` +
        '(e.g. DenseVNet/batch_norm/beta, DenseVNet/batch_norm/gamma, DenseVNet/batch_norm/moving_mean and 61 more)\n' +
        `  Fix: check the pattern with "thaw vars <checkpoint> --match 'conv_bn/conv_/w:0'"`,
    );
    assert.equal(
      only(report.warnings, 'PatternHasColonZero').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze[1]: the pattern 'conv_bn/conv_/w:0' contains ":0", but checkpoint variable names have no ":0" suffix\n` +
        '  Fix: remove ":0" from the pattern',
    );
  });

  it('freezing half of a batch norm keeps its statistics updating; freezing beta and gamma freezes them', async () => {
    const report = await check(`
  - name: part
    iterations: 10
    vars_to_freeze: ['conv_bn/bn_/beta$', '^DenseVNet/batch_norm/']`);
    assert.deepEqual(report.errors, []);
    const [stage] = report.stages;
    assert.deepEqual(stage.selection.frozen, [`${BATCH_NORM}/beta`, `${BATCH_NORM}/gamma`, ...statistics(BATCH_NORM), `${INITIAL}/bn_/beta`]);
    const fate = Object.fromEntries(stage.variables.map((v) => [v.name, v.fate]));
    assert.equal(fate[`${INITIAL}/bn_/gamma`], 'restored, trained');
    assert.equal(fate[`${INITIAL}/bn_/moving_mean`], 'restored, statistics');
    assert.equal(fate[`${BATCH_NORM}/moving_mean`], 'restored, frozen');
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
    vars_to_freeze: '^DenseVNet/conv_bn/'`, { startingIter: 0 });
    assert.deepEqual(report.errors, []);
    const [stage] = report.stages;
    assert.equal(stage.restoreFrom, null);
    assert.equal(stage.startIteration, 0);
    assert.deepEqual(stage.selection.restored, []);
    assert.deepEqual(stage.selection.frozen, convBnAll(INITIAL));
    assert.equal(
      only(report.warnings, 'RestoreIgnored').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_restore: vars_to_restore is given, but the stage starts from scratch (starting_iter: 0), so nothing is restored\n` +
        '  Fix: set starting_iter to the iteration of a checkpoint (or -1 for the latest), or remove vars_to_restore',
    );
    assert.equal(
      only(report.warnings, 'FreezesInitialised').message,
      `${pipelineFile}: stage "s": stages[0].vars_to_freeze: freezes 3 variables that start from random values (they are not restored): ` +
        'DenseVNet/conv_bn/conv_/w, DenseVNet/conv_bn/bn_/beta, DenseVNet/conv_bn/bn_/gamma\n' +
        '  Fix: restore them from a checkpoint first, or do not freeze them',
    );
  });
});

describe('later stages continue from their parent', () => {
  const FIRST = `
  - name: head
    iterations: 50
    vars_to_restore: ${quoted(HEAD)}`;

  it('restore everything the parent saved, freeze only what they name, initialise (and report) the slots it never had', async () => {
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
    assert.deepEqual(all.selection.slotsInitialised, adam(BODY_TRAINABLE));
    assert.deepEqual(all.selection.initialised, all.selection.slotsInitialised);
    // The parent of `again` trained everything, so its checkpoint has every slot.
    assert.equal(again.startIteration, ITERATION + 75);
    assert.deepEqual(again.selection.slotsInitialised, []);
    assert.deepEqual(again.selection.initialised, []);
  });

  it("a parent's checkpoint carries, unchanged, the slots of the variables it froze", async () => {
    // `body` freezes the head, so its graph has no Adam slots for the head, but the starting checkpoint's head slots
    // are in its checkpoint: `all` finds every slot.
    const report = await check(`
  - name: body
    iterations: 50
    vars_to_freeze: ['^DenseVNet/conv/', 'DenseVNet/dense_feature_stack_block(_\\d)?/conv_bn_relu/']
  - name: all
    after: body
    iterations: 25
    vars_to_freeze: []`);
    assert.deepEqual(report.errors, []);
    const [body, all] = report.stages;
    assert.deepEqual(body.selection.trained, BODY_TRAINABLE);
    assert.deepEqual(body.selection.slotsInitialised, adam(BODY_TRAINABLE));
    assert.deepEqual(all.selection.slotsInitialised, []);
    assert.deepEqual(all.selection.initialised, []);
    assert.ok(all.selection.restored.includes(`${FINAL}/w/Adam`));
  });

  it('a hand-written vars_to_restore that demands slots the parent never created names the stage that froze them', async () => {
    const report = await check(`${FIRST}
  - name: all
    after: head
    iterations: 25
    vars_to_restore: '^DenseVNet/conv_bn/'
    vars_to_freeze: []`);
    const problem = only(report.errors, 'MissingOptimizerSlots');
    assert.equal(
      problem.message,
      `${pipelineFile}: stage "all": stages[1].vars_to_restore: restores 6 optimizer slots that the checkpoint of stage "head" ` +
        `(${path.join(dir, 'run', 'models', `model.ckpt-${ITERATION + 50}`)}) does not hold (DenseVNet/conv_bn/conv_/w/Adam, DenseVNet/conv_bn/conv_/w/Adam_1, ` +
        'DenseVNet/conv_bn/bn_/beta/Adam, DenseVNet/conv_bn/bn_/beta/Adam_1, DenseVNet/conv_bn/bn_/gamma/Adam, DenseVNet/conv_bn/bn_/gamma/Adam_1): ' +
        'stage "head" froze DenseVNet/conv_bn/conv_/w, DenseVNet/conv_bn/bn_/beta, DenseVNet/conv_bn/bn_/gamma (its vars_to_freeze), ' +
        'and TensorFlow creates optimizer slots only for trained variables\n' +
        "  Fix: restore everything except the optimizer slots with vars_to_restore: '^((?!(Adam)).)*$' (the slots then start from zero), " +
        'or leave vars_to_restore out: thaw then restores what the parent saved and initialises the missing slots',
    );
    // On the same data, not restoring what the parent trained throws that training away.
    const discarded = only(report.warnings, 'DiscardsEarlierTraining');
    assert.deepEqual(discarded.variables, HEAD_TRAINABLE);
    assert.equal(
      discarded.message,
      `${pipelineFile}: stage "all": stages[1].vars_to_restore: does not restore 8 variables that stage "head" trained on the same data, ` +
        'so they start from random values again: DenseVNet/dense_feature_stack_block/conv_bn_relu/conv_/w, ' +
        'DenseVNet/dense_feature_stack_block/conv_bn_relu/bn_/beta, DenseVNet/dense_feature_stack_block/conv_bn_relu/bn_/gamma, ' +
        'DenseVNet/dense_feature_stack_block_1/conv_bn_relu/conv_/w, DenseVNet/dense_feature_stack_block_1/conv_bn_relu/bn_/beta, ' +
        'DenseVNet/dense_feature_stack_block_1/conv_bn_relu/bn_/gamma and 2 more\n' +
        '  Fix: restore them too (leave vars_to_restore out to restore everything the parent saved)',
    );
  });

  it('a fresh head on new data (restoring neither the head nor any slot) is not a contradiction', async () => {
    const report = await check(`${FIRST}
  - name: task_b
    after: head
    data: {task: B}
    iterations: 25
    vars_to_restore: '^((?!DenseVNet\\/(conv\\/|dense_feature_stack_block(_\\d)?\\/conv_bn_relu\\/)|Adam).)*$'
    vars_to_freeze: []`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    const taskB = report.stages[1];
    assert.deepEqual(taskB.selection.restored, [...BODY_ALL, ...POWERS]);
    assert.deepEqual(taskB.selection.initialised, [...HEAD_ALL, ...adam(ALL_TRAINABLE)]);
  });
});
