/**
 * Interop with TensorFlow for Python: checkpoints the trainer writes load in TF (reader and a TF1 Saver) with the
 * same bytes, and the optimisers follow tf.compat.v1.train's Adam / Momentum / SGD update rules and slot names.
 * One Python process does all checks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Variable } from '@tensorflow/tfjs';
import { CheckpointReader } from '../lib/checkpoint';
import type { OptimizerName } from '../lib/pipeline/plan';
import { loadBackend } from '../lib/training/backend';
import { makeOptimizer } from '../lib/training/optimizers';
import { BETA1_POWER, BETA2_POWER } from '../lib/training/optimizers/slot-names';
import { runStage } from '../lib/training';
import { runPython } from './helpers/python';
import { quiet, SETTINGS, stageRequest, tempDir } from './helpers/training';

interface PyOut {
  checkpoints: Record<string, { variables: Record<string, { dtype: string; shape: number[]; sha256: string }>; saver_restored: number }>;
  optimizers: { var: number[]; slots: Record<string, number[] | number> }[];
}

const INIT = [0.5, -1.25, 2, 0.001];
const GRADS = [[0.1, -0.2, 0.3, 0.4], [1.5, 0.25, -0.75, 0], [-0.3, 0.3, 0.01, -2], [0.2, 0.2, 0.2, 0.2], [0, -1, 1e-3, 5]];
const OPTIMIZERS: OptimizerName[] = ['adam', 'momentum', 'sgd'];

/** Our optimiser on the training backend, applied to one variable `v` for the GRADS sequence. */
async function ours(optimizer: OptimizerName) {
  const { tf } = await loadBackend('auto');
  const settings = { ...SETTINGS, optimizer, lr: 0.05 };
  const vars = new Map<string, Variable>([['v', tf.variable(tf.tensor1d(INIT))]]);
  for (const slot of optimizer === 'adam' ? ['v/Adam', 'v/Adam_1'] : optimizer === 'momentum' ? ['v/Momentum'] : []) {
    vars.set(slot, tf.variable(tf.zeros([INIT.length])));
  }
  if (optimizer === 'adam') {
    vars.set(BETA1_POWER, tf.variable(tf.scalar(settings.beta1)));
    vars.set(BETA2_POWER, tf.variable(tf.scalar(settings.beta2)));
  }
  const opt = makeOptimizer(tf, vars, settings);
  for (const g of GRADS) {
    const grad = tf.tensor1d(g);
    opt.apply(new Map([['v', grad]]));
    grad.dispose();
  }
  const values = Object.fromEntries([...vars].map(([k, v]) => [k, Array.from(v.dataSync())]));
  for (const v of vars.values()) v.dispose();
  return { settings, values };
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${a} vs ${expected[i]}`));
}

test('checkpoints thaw trains load in TensorFlow with the same values; optimisers match tf.compat.v1.train', async () => {
  const dir = tempDir('interop');
  const network = { name: 'highres3dnet', params: { dims: 2, conv_0_features: 2, res_features: [2, 2, 4], res_repeat: 1, conv_1_features: 4 } };
  const result = await runStage(stageRequest({ modelDir: dir, end: 3, network }), quiet);

  const mine = await Promise.all(OPTIMIZERS.map(ours));
  const job = {
    checkpoints: [result.checkpoint],
    optimizers: mine.map(({ settings }) => ({ name: settings.optimizer, lr: settings.lr, beta1: settings.beta1, beta2: settings.beta2,
      epsilon: settings.epsilon, momentum: settings.momentum, init: INIT, grads: GRADS })),
  };
  const jobFile = path.join(dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const py = JSON.parse(await runPython('train_reference.py', [jobFile])) as PyOut;

  const described = py.checkpoints[result.checkpoint];
  const reader = await CheckpointReader.open(result.checkpoint);
  const names = reader.variables().map((v) => v.name).sort();
  assert.deepEqual(Object.keys(described.variables).sort(), names);
  assert.equal(described.saver_restored, names.length);
  for (const info of reader.variables()) {
    const t = await reader.read(info.name);
    const bytes = t.data as Float32Array | BigInt64Array;
    const sha = createHash('sha256').update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest('hex');
    assert.deepEqual(described.variables[info.name], { dtype: info.dtype, shape: info.shape, sha256: sha }, info.name);
  }
  await reader.close();
  assert.ok(names.includes('HighRes3DNet/res_1_0/conv_0/w/Adam') && names.includes(BETA2_POWER) && !names.includes('global_step'));

  OPTIMIZERS.forEach((name, i) => {
    const { values } = mine[i];
    const ref = py.optimizers[i];
    assertClose(values.v, ref.var, `${name} var`);
    const slotName = { Adam: 'm', Adam_1: 'v', Momentum: 'momentum' } as Record<string, string>;
    for (const [suffix, tfSlot] of Object.entries(slotName)) {
      if (values[`v/${suffix}`]) assertClose(values[`v/${suffix}`], ref.slots[tfSlot] as number[], `${name} v/${suffix}`);
    }
    if (name === 'adam') {
      assertClose(values[BETA1_POWER], [ref.slots.beta1_power as number], BETA1_POWER);
      assertClose(values[BETA2_POWER], [ref.slots.beta2_power as number], BETA2_POWER);
    }
  });
});
