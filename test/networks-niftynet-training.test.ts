/**
 * Training against NiftyNet 0.6.0's own graph (test/python/niftynet_reference.py builds it as NiftyNet's
 * segmentation application and gradient handler do): one Adam step with a freeze set and batch-norm updates, in
 * NiftyNet's batch-norm mode and in thaw's default (frozen layers' batch norm in inference mode, against the same
 * graph with those layers in inference mode), ends with NiftyNet's values on every variable, network and optimiser
 * state; and every loss_type equals niftynet.layer.loss_segmentation's. Native backend (tfjs-node).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointReader } from '../lib/checkpoint';
import { loadBackend } from '../lib/training/backend';
import { LOSS_TYPES, segmentationLoss } from '../lib/training/engine/losses';
import { cropLabels } from '../lib/training/engine/training-step';
import { getNetwork } from '../lib/training/networks';
import {
  caseBatch, caseTransforms, randomValues, relativeMaxDiff, runNiftyNet, stepGraphVariables, testStream, thawStep,
  writeArray, writeValues, type Job, type StepCase,
} from './helpers/niftynet';
import { tempDir } from './helpers/training';

/**
 * Step cases: freeze sets in NiftyNet's own style, both batch-norm modes. The 3-D U-Net runs with elu: with relu,
 * 2×2×2 max-pool windows of exact zeros tie, and TensorFlow's oneDNN and reference MaxPool3DGrad kernels route
 * tied gradients differently (checked: with TF_ENABLE_ONEDNN_OPTS=0 on both sides relu agrees to 7e-7 too).
 */
const STEP_CASES: StepCase[] = [
  { network: 'toynet', params: {}, size: [16, 16], freeze: null, frozenBatchNorm: 'moving' },
  { network: 'highres3dnet', params: { res_features: [4, 4, 8], conv_0_features: 4, conv_1_features: 8 }, size: [16, 16, 16],
    freeze: '^((?!HighRes3DNet\\/(conv_1|conv_2|res_3)).)*$', frozenBatchNorm: 'moving' },
  { network: 'highres3dnet', params: { res_features: [4, 4, 8], conv_0_features: 4, conv_1_features: 8 }, size: [16, 16, 16],
    freeze: '^((?!HighRes3DNet\\/(conv_1|conv_2|res_3)).)*$', frozenBatchNorm: 'batch' },
  { network: 'highres3dnet_small', params: { res_features: [4, 4, 8] }, size: [16, 16, 16], freeze: 'res_1', frozenBatchNorm: 'moving' },
  { network: 'highres3dnet_large', params: { res_features: [4, 4, 8], activation_function: 'selu' }, size: [16, 16, 16], freeze: 'conv_0', frozenBatchNorm: 'batch' },
  { network: 'dense_vnet', params: { num_classes: 3 }, size: [16, 16, 16], freeze: '^((?!DenseVNet\\/conv\\/).)*$', frozenBatchNorm: 'moving' },
  { network: 'dense_vnet', params: { n_dense_channels: [2, 4], n_seg_channels: [4, 4], n_down_channels: [4, null], dilation_rates: [[1, 1], [1, 1, 1]] },
    size: [16, 16, 16], freeze: null, frozenBatchNorm: 'batch' },
  { network: 'no_new_net', params: { n_features: [4, 4, 8, 8, 8], activation_function: 'prelu' }, size: [16, 16, 16], freeze: 'L1|L2', frozenBatchNorm: 'moving' },
  { network: 'vnet', params: { n_features: [4, 4, 8, 8, 8] }, size: [16, 16, 16], freeze: '^VNet/L', frozenBatchNorm: 'moving' },
  { network: 'unet_2d', params: { n_features: [4, 4, 8, 8, 8] }, size: [188, 188], freeze: 'TwoConv/', frozenBatchNorm: 'batch' },
  { network: 'unet', params: { n_features: [2, 4, 4, 4, 4], activation_function: 'elu' }, size: [96, 96, 96], freeze: 'L1/', frozenBatchNorm: 'moving' },
];

test('one Adam step with a freeze set and batch-norm updates equals NiftyNet\'s graph on every variable (≤ 1e-5)', async () => {
  const { tf } = await loadBackend('tensorflow');
  const dir = tempDir('nn-step');
  const jobs: Job[] = [];
  const inputs: { start: Map<string, Float32Array>; batch: ReturnType<typeof caseBatch> }[] = [];
  for (const [i, c] of STEP_CASES.entries()) {
    const specs = stepGraphVariables(c);
    const start = randomValues(specs, 200 + i);
    const checkpoint = `${dir}/case-${i}/model.ckpt-1`;
    await writeValues(checkpoint, specs, start);
    const batch = caseBatch(c, 300 + i);
    const net = getNetwork(c.network);
    const outSize = net.outputSize(c.params, c.size);
    const labels = cropLabels(batch.labels, batch.shape.slice(0, -1), outSize);
    const transforms = caseTransforms(c, 7);
    const p = net.resolveParams(c.params);
    inputs.push({ start, batch });
    jobs.push({
      kind: 'step', network: { name: c.network, params: c.params }, checkpoint,
      input: writeArray(`${dir}/x-${i}.f32`, batch.images, batch.shape),
      labels: writeArray(`${dir}/y-${i}.i32`, labels, [2, ...outSize]),
      loss_type: 'DicePlusXEnt', optimizer: { name: 'adam', lr: 0.01 }, vars_to_freeze: c.freeze,
      frozen_batch_norm: c.frozenBatchNorm, save: `${dir}/case-${i}/niftynet.ckpt`,
      affine: transforms ? writeArray(`${dir}/affine-${i}.f32`, transforms, [2, p.dims + 1, p.dims + 1]) : null,
    });
  }
  // NiftyNet's steps (another process) run while thaw's are computed here.
  const reference = runNiftyNet(dir, jobs);
  reference.catch(() => {}); // awaited below; a failure of thaw's side first must not leave it unhandled
  const ours = STEP_CASES.map((c, i) => ({ ...thawStep(tf, c, inputs[i].start, inputs[i].batch, 7), start: inputs[i].start }));
  const results = (await reference) as { loss: number }[];
  for (const [i, c] of STEP_CASES.entries()) {
    const what = `${c.network} freeze=${c.freeze} frozen_batch_norm=${c.frozenBatchNorm}`;
    const reader = await CheckpointReader.open((jobs[i] as { save: string }).save);
    try {
      const names = reader.variables().map((v) => v.name).sort();
      assert.deepEqual([...ours[i].values.keys()].sort(), names, `${what}: the same variables (network and Adam state)`);
      let worst = 0;
      let moved = 0;
      for (const name of names) {
        const reference = (await reader.read(name)).data as Float32Array;
        const { diff } = relativeMaxDiff(ours[i].values.get(name)!, reference);
        assert.ok(diff <= 1e-5, `${what}: ${name} differs by ${diff}`);
        worst = Math.max(worst, diff);
        if (relativeMaxDiff(reference, ours[i].start.get(name)!).diff > 0) moved++;
      }
      assert.ok(Math.abs(ours[i].loss - results[i].loss) <= 1e-5 * Math.max(1, Math.abs(results[i].loss)), `${what}: loss`);
      console.log(`# step ${what}: ${names.length} variables, ${moved} changed, max diff ${worst.toExponential(2)}, loss ${results[i].loss.toFixed(6)}`);
    } finally {
      await reader.close();
    }
  }
});

test('every loss_type equals niftynet.layer.loss_segmentation (2-D and 3-D, 2 and 4 classes)', async () => {
  const { tf } = await loadBackend('tensorflow');
  const dir = tempDir('nn-loss');
  const shapes = [[2, 6, 5, 2], [2, 4, 3, 5, 4]];
  const jobs: Job[] = [];
  const ours: number[] = [];
  shapes.forEach((shape, s) => {
    const rng = testStream(s, 9);
    const n = shape.reduce((a, b) => a * b, 1);
    const logits = Float32Array.from({ length: n }, () => 2 * rng.normal());
    const labels = Int32Array.from({ length: n / shape.at(-1)! }, () => rng.int(shape.at(-1)!));
    const logitsRef = writeArray(`${dir}/logits-${s}.f32`, logits, shape);
    const labelsRef = writeArray(`${dir}/labels-${s}.i32`, labels, shape.slice(0, -1));
    for (const lossType of LOSS_TYPES) {
      ours.push(tf.tidy(() => segmentationLoss(tf, lossType, tf.tensor(logits, shape), tf.tensor(labels, shape.slice(0, -1), 'int32')).dataSync()[0]));
      jobs.push({ kind: 'loss', logits: logitsRef, labels: labelsRef, loss_type: lossType });
    }
  });
  const results = (await runNiftyNet(dir, jobs)) as { loss: number }[];
  results.forEach((r, i) => {
    const what = `${(jobs[i] as { loss_type: string }).loss_type} on ${JSON.stringify(shapes[Math.floor(i / LOSS_TYPES.length)])}`;
    assert.ok(Math.abs(ours[i] - r.loss) <= 1e-5 * Math.max(1, Math.abs(r.loss)), `${what}: ${ours[i]} vs NiftyNet ${r.loss}`);
  });
});
