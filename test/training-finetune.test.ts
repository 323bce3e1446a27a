/**
 * Progressive unfreezing pays off: pretrain a (2-D, small) NiftyNet HighRes3DNet on synthetic task A, fine-tune only
 * its head on task B, then unfreeze everything — this ends with a lower held-out task-B loss than training task B
 * from scratch for the same number of task-B iterations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStage } from '../lib/training';
import { readSettings } from '../lib/settings';
import { evaluateCheckpoint } from '../lib/training/engine/evaluate';
import { quiet, stageRequest, tempDir, type StageSpec } from './helpers/training';

const network = { name: 'highres3dnet', params: { dims: 2, conv_0_features: 4, res_features: [4, 8, 8], res_repeat: 1, conv_1_features: 8 } };
const size = [24, 24];
const common: Partial<StageSpec> = { network, size, settings: { batch_size: 4, save_every_n: 0, lr: 0.01 } };
const PRETRAIN = 30;
const HEAD = 5;
const UNFREEZE = 10;

test('pretrain on A → head-only on B → unfreeze beats training B from scratch for the same iterations', async () => {
  const dir = tempDir('finetune');
  const a = await runStage(stageRequest({ ...common, modelDir: dir, stage: 'pretrain_a', end: PRETRAIN, task: 'A' }), quiet);
  const head = await runStage(stageRequest({
    ...common, modelDir: dir, stage: 'head_b', start: PRETRAIN, end: PRETRAIN + HEAD, restoreFrom: a.checkpoint, task: 'B',
    freeze: /^HighRes3DNet\/(conv_0|res_)/,
  }), quiet);
  const all = await runStage(stageRequest({
    ...common, modelDir: dir, stage: 'unfreeze_b', start: PRETRAIN + HEAD, end: PRETRAIN + HEAD + UNFREEZE, restoreFrom: head.checkpoint, task: 'B',
  }), quiet);
  const scratch = await runStage(stageRequest({ ...common, modelDir: tempDir('scratch'), stage: 'scratch_b', end: HEAD + UNFREEZE, task: 'B' }), quiet);

  const lossOnB = (checkpoint: string) => evaluateCheckpoint({
    checkpoint, network, data: { kind: 'synthetic', task: 'B', spatial_size: size }, seed: 7, loss: 'DicePlusXEnt', batches: 4, batchSize: 4,
  }, readSettings().training);
  const fineTuned = await lossOnB(all.checkpoint);
  const fromScratch = await lossOnB(scratch.checkpoint);
  assert.ok(fineTuned < fromScratch, `fine-tuned ${fineTuned} should beat scratch ${fromScratch} on task B`);
});
