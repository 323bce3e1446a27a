/**
 * thaw's networks against NiftyNet 0.6.0's own classes (test/python/niftynet_reference.py): for every shipped
 * network at its defaults and at two other parameter sets, the variable list (names, shapes, dtypes, trainable)
 * is NiftyNet's; the forward pass in training and in inference mode gives NiftyNet's outputs for the same weights
 * and input (weights written by thaw, restored by NiftyNet's Saver). Training steps and losses:
 * networks-niftynet-training.test.ts. Nothing here is a list written by hand: the reference is NiftyNet's code.
 * Runs on the native backend (tfjs-node), asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBackend } from '../lib/training/backend';
import { getNetwork, listNetworks } from '../lib/training/networks';
import {
  caseBatch, caseTransforms, randomValues, readFloat32, relativeMaxDiff, runNiftyNet, thawForward, writeArray, writeValues,
  type Case, type ForwardPass, type Job, type ReferenceVariable,
} from './helpers/niftynet';
import { tempDir } from './helpers/training';

/** Every shipped network: NiftyNet's defaults, then two other parameter sets (widths, activations, dims, channels). */
const PARAM_SETS: Record<string, Record<string, unknown>[]> = {
  // Odd width steps (16 → 25 → 40) pad residual channels unevenly, as NiftyNet does (floor of half before).
  highres3dnet: [{}, { activation_function: 'prelu', num_classes: 3, in_channels: 2, res_features: [16, 25, 40] },
    { conv_0_features: 8, res_features: [8, 8, 16], res_repeat: 2, conv_1_features: 16, activation_function: 'leakyrelu', dims: 2 }],
  highres3dnet_small: [{}, { res_features: [4, 4, 8], activation_function: 'elu' }, { res_repeat: 1, conv_1_features: 12, num_classes: 4, dims: 2 }],
  highres3dnet_large: [{}, { res_features: [4, 4, 8], conv_2_features: 8, activation_function: 'selu' }, { in_channels: 3, res_repeat: 1, activation_function: 'prelu' }],
  dense_vnet: [{}, {
    n_dense_channels: [2, 4], n_seg_channels: [4, 4], n_down_channels: [4, null], dilation_rates: [[1, 1], [1, 1, 1]],
    use_prior: true, prior_size: 8, num_classes: 3,
  }, { n_initial_conv_channels: 8, seg_kernel_size: 1, augmentation_scale: 0, in_channels: 2, dims: 2 }],
  unet: [{}, { n_features: [2, 4, 4, 4, 4], activation_function: 'prelu' }, { n_features: [4, 4, 8, 8, 8], num_classes: 3, dims: 2 }],
  unet_2d: [{}, { n_features: [4, 4, 8, 8, 8] }, { n_features: [2, 2, 4, 4, 8], activation_function: 'relu6', in_channels: 2 }],
  vnet: [{}, { n_features: [4, 4, 8, 8, 8], activation_function: 'prelu' }, { n_features: [2, 4, 4, 8, 8], in_channels: 3, dims: 2 }],
  no_new_net: [{}, { n_features: [4, 4, 8, 8, 8], activation_function: 'prelu' }, { n_features: [2, 4, 4, 4, 4], activation_function: 'leakyrelu', num_classes: 4 }],
  toynet: [{}, { hidden_features: 4, num_classes: 5, dims: 3 }, { in_channels: 3, dims: 2 }],
};

/** Input sizes for the forward passes: the network's own constraints (divisible by 8, ≥ 89, VALID convolutions). */
function sizeFor(network: string, params: Record<string, unknown>): number[] {
  const dims = getNetwork(network).resolveParams(params).dims;
  const edge: Record<string, number> = { unet: 96, unet_2d: 188, dense_vnet: 32, toynet: 12 };
  return Array(dims).fill(edge[network] ?? 16);
}

const CASES: Case[] = Object.entries(PARAM_SETS).flatMap(([network, sets]) =>
  sets.map((params) => ({ network, params, size: sizeFor(network, params) })));

/**
 * Forward passes at every parameter set, except the two U-Nets at their default widths (32…512 channels on 96³,
 * 64…1024 on 188²: about two minutes on 2 cores for the pair) unless THAW_FULL_PARITY=1; their code paths run at
 * the other two sets.
 */
const HEAVY_DEFAULTS = new Set(['unet', 'unet_2d']);
const FORWARD_CASES = CASES.filter((c) => process.env.THAW_FULL_PARITY === '1' || !(HEAVY_DEFAULTS.has(c.network) && Object.keys(c.params).length === 0));

test('every shipped network is a NiftyNet network with a parameter-set table here', () => {
  assert.deepEqual(listNetworks().map((n) => n.name).sort(), Object.keys(PARAM_SETS).sort());
});

test('variable lists equal NiftyNet 0.6.0\'s classes: names, shapes, dtypes, trainable, at 3 parameter sets each', async () => {
  const dir = tempDir('nn-vars');
  const jobs: Job[] = CASES.map((c) => ({ kind: 'variables', network: { name: c.network, params: c.params }, spatial_size: c.size }));
  const results = (await runNiftyNet(dir, jobs)) as ReferenceVariable[][];
  const line = (v: ReferenceVariable) => `${v.name} ${v.dtype}[${v.shape.join(',')}]${v.trainable ? ' trainable' : ''}`;
  CASES.forEach((c, i) => {
    const ours = getNetwork(c.network).variables(c.params).map(line).sort();
    const theirs = results[i].map(line).sort();
    assert.deepEqual(ours, theirs, `${c.network} ${JSON.stringify(c.params)}`);
    console.log(`# variables ${c.network} ${JSON.stringify(c.params)}: ${ours.length} equal`);
  });
});

test('forward passes equal NiftyNet\'s in training and inference mode (≤ 1e-4 of the output scale), native backend', async () => {
  const { tf, name } = await loadBackend('tensorflow');
  assert.equal(name, 'tensorflow');
  const dir = tempDir('nn-forward');
  const jobs: Job[] = [];
  const passes: { c: Case; pass: ForwardPass; ours: Float32Array }[] = [];
  for (const [i, c] of FORWARD_CASES.entries()) {
    const specs = getNetwork(c.network).variables(c.params);
    const values = randomValues(specs, 100 + i);
    const checkpoint = `${dir}/case-${i}/model.ckpt-1`;
    await writeValues(checkpoint, specs, values);
    const { images, shape } = caseBatch(c, i);
    const input = writeArray(`${dir}/x-${i}.f32`, images, shape);
    const transforms = caseTransforms(c, i);
    const p = getNetwork(c.network).resolveParams(c.params);
    const affine = transforms ? writeArray(`${dir}/affine-${i}.f32`, transforms, [2, p.dims + 1, p.dims + 1]) : null;
    const casePasses = [true, false].map((training) => ({ training, output: `${dir}/y-${i}-${training}.f32` }));
    for (const pass of casePasses) passes.push({ c, pass, ours: thawForward(tf, c, values, images, pass.training, pass.training ? transforms : null) });
    jobs.push({ kind: 'forward', network: { name: c.network, params: c.params }, checkpoint, input, passes: casePasses, affine });
  }
  await runNiftyNet(dir, jobs);
  for (const { c, pass, ours } of passes) {
    const reference = readFloat32(pass.output);
    assert.equal(ours.length, reference.length, `${c.network} output size`);
    const { diff, scale } = relativeMaxDiff(ours, reference);
    const mode = pass.training ? 'training' : 'inference';
    console.log(`# forward ${c.network} ${JSON.stringify(c.params)} ${mode}: max diff ${diff.toExponential(2)} of scale ${scale.toFixed(2)}`);
    assert.ok(diff <= 1e-4, `${c.network} ${JSON.stringify(c.params)} ${mode}: max difference ${diff} of the output scale`);
  }
});

