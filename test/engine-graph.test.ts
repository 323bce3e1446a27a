/**
 * The graph engine (each stage's step as one TensorFlow graph through libtensorflow's C API): it agrees with the tfjs
 * engine within 1e-5 over 5 steps from the same checkpoint (2-D and 3-D, with a freeze set and batch-norm updates,
 * both frozen_batch_norm modes) and leaves frozen variables bit-identical; a stage stopped or SIGKILLed and resumed
 * on it ends bit-identical to an uninterrupted one (DenseVNet, whose random affine warp is fed per step from (seed,
 * iteration), included); an op it cannot differentiate is refused at stage start naming the op and the layer, and
 * `auto` then falls back to tfjs saying why; every loss_type computes what the tfjs engine computes.
 */
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CheckpointReader, diffCheckpoints, readSidecar } from '../lib/checkpoint';
import { isUserError } from '../lib/errors';
import type { TrainingSettings } from '../lib/pipeline/plan';
import { runStage } from '../lib/training';
import { loadBackend } from '../lib/training/backend';
import { requestedEngine } from '../lib/training/engine/engine';
import { GRADIENTS } from '../lib/training/engine/graph/gradients';
import { GraphBuilder } from '../lib/training/engine/graph/graph';
import { graphSegmentationLoss } from '../lib/training/engine/graph/graph-losses';
import { loadTfC, newTensor, readFloat32 } from '../lib/training/engine/graph/tf-c';
import { LOSS_TYPES, segmentationLoss } from '../lib/training/engine/losses';
import { GraphStep } from '../lib/training/engine/graph/graph-step';
import { buildStageGraph } from '../lib/training/stage-setup';
import { makeDataSource } from '../lib/data';
import { trainInProcess } from '../lib/training/trainer';
import { readSettings } from '../lib/settings';
import type { StageResult } from '../lib/training/types';
import { relativeMaxDiff, testStream } from './helpers/niftynet';
import { quiet, stageRequest, tempDir, type StageSpec } from './helpers/training';

/** This test process' settings, as an edge reads them. */
const SETTINGS = readSettings();

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

const graphOnly = { settings: { engine: 'graph' } } as const;

async function values(prefix: string): Promise<Map<string, Float32Array>> {
  const reader = await CheckpointReader.open(prefix);
  try {
    const out = new Map<string, Float32Array>();
    for (const v of reader.variables()) out.set(v.name, (await reader.read(v.name)).data as Float32Array);
    return out;
  } finally {
    await reader.close();
  }
}

async function assertIdentical(a: string, b: string): Promise<void> {
  const report = await diffCheckpoints(a, b);
  const different = report.variables.filter((v) => v.status !== 'same');
  assert.deepEqual(different, [], `checkpoints differ: ${JSON.stringify(different.slice(0, 5))}`);
}

const withSettings = (spec: StageSpec, settings: Partial<TrainingSettings>): StageSpec => ({ ...spec, settings: { ...spec.settings, ...settings } });

const AGREEMENT_CASES: { what: string; spec: Omit<StageSpec, 'modelDir' | 'end'>; freeze: RegExp; frozenLayer: string; trainedBn: string }[] = [
  {
    what: '2-D toynet, conv_input frozen (its batch norm on moving statistics)',
    spec: { network: { name: 'toynet', params: { hidden_features: 4 } }, size: [16, 16], settings: { lr: 0.003 } },
    freeze: /ToyNet\/conv_input_bn_relu\//, frozenLayer: 'ToyNet/conv_input_bn_relu/bn_', trainedBn: 'ToyNet/conv_output_bn/bn_',
  },
  {
    what: '3-D highres3dnet, res_1 frozen, NiftyNet\'s batch-norm mode (frozen batch norms keep updating)',
    spec: {
      network: { name: 'highres3dnet', params: { dims: 3, conv_0_features: 4, res_features: [4, 4, 8], res_repeat: 1, conv_1_features: 8 } },
      size: [8, 8, 8], settings: { lr: 0.003, frozen_batch_norm: 'batch' },
    },
    freeze: /HighRes3DNet\/res_1/, frozenLayer: 'HighRes3DNet/res_1_0/bn_0', trainedBn: 'HighRes3DNet/res_2_0/bn_0',
  },
];

for (const c of AGREEMENT_CASES) {
  test(`graph and tfjs engines agree within 1e-5 over 5 steps: ${c.what}; frozen variables stay bit-identical`, async () => {
    const dir = tempDir('agree');
    const parent = await runStage(stageRequest(withSettings({ ...c.spec, modelDir: dir, stage: 'pretrain', end: 2 }, { engine: 'graph' })), quiet);
    const child = (engine: 'graph' | 'tfjs') => runStage(stageRequest(withSettings({
      ...c.spec, modelDir: path.join(dir, engine), stage: 'head', start: 2, end: 7, restoreFrom: parent.checkpoint, freeze: c.freeze, task: 'B',
    }, { engine, save_every_n: 100 })), quiet);
    const graph = await child('graph');
    const tfjs = await child('tfjs');
    assert.deepEqual([graph.engine, tfjs.engine], ['graph', 'tfjs']);
    const [start, a, b] = await Promise.all([values(parent.checkpoint), values(graph.checkpoint), values(tfjs.checkpoint)]);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), 'the same variables');
    // Frozen variables: bit-identical to the parent on both engines; trained ones and their batch norm moved.
    const sidecar = (await readSidecar(graph.checkpoint)) as { frozen: string[]; engine: string };
    assert.equal(sidecar.engine, 'graph');
    assert.ok(sidecar.frozen.length > 0);
    for (const name of sidecar.frozen) {
      assert.deepEqual(a.get(name), start.get(name), `frozen ${name} unchanged on the graph engine`);
      assert.deepEqual(b.get(name), start.get(name), `frozen ${name} unchanged on the tfjs engine`);
    }
    const bnMode = (c.spec.settings as Partial<TrainingSettings>).frozen_batch_norm ?? 'moving';
    const frozenStat = `${c.frozenLayer}/moving_mean`;
    assert.equal(relativeMaxDiff(a.get(frozenStat)!, start.get(frozenStat)!).diff === 0, bnMode === 'moving',
      `${frozenStat} ${bnMode === 'moving' ? 'stays' : 'keeps updating'} (frozen_batch_norm: ${bnMode})`);
    for (const name of [`${c.trainedBn}/moving_mean`, `${c.trainedBn}/gamma`]) {
      assert.ok(relativeMaxDiff(a.get(name)!, start.get(name)!).diff > 0, `${name} changed`);
    }
    let worst = 0;
    for (const [name, va] of a) {
      const { diff } = relativeMaxDiff(va, b.get(name)!);
      assert.ok(diff <= 1e-5, `${name}: graph and tfjs differ by ${diff}`);
      worst = Math.max(worst, diff);
    }
    assert.ok(Math.abs(graph.finalLoss! - tfjs.finalLoss!) <= 1e-5 * Math.max(1, Math.abs(tfjs.finalLoss!)), 'final loss');
    console.log(`# ${c.what}: ${a.size} variables, worst relative difference ${worst.toExponential(2)}`);
  });
}

test('graph engine: frozen variables get no gradient ops; trained ones get exactly theirs', () => {
  // ToyNet: conv_input (frozen here) feeds conv_output (trained). conv_output needs its filter gradient only: nothing
  // upstream trains, so no input gradient either, and no op at all differentiates the frozen layer.
  const req = stageRequest({ modelDir: tempDir('no-grad'), end: 1, freeze: /ToyNet\/conv_input_bn_relu\//, ...graphOnly });
  const data = makeDataSource(req.data, { seed: req.seed, baseDir: process.cwd() });
  const step = new GraphStep(loadTfC(SETTINGS.training.tfPackageDir), buildStageGraph(req, data), {
    batchShape: data.batch(0, 2).shape, seed: req.seed, settings: req.settings, xla: false, intraOpThreads: 0, interOpThreads: 0,
  });
  try {
    const ops = step.ops();
    const gradientOps = ops.filter((o) => o.name.startsWith('gradients/'));
    assert.ok(gradientOps.length > 0);
    assert.deepEqual(gradientOps.filter((o) => o.name.includes('conv_input')).map((o) => o.name), [], 'no gradient op for the frozen layer');
    assert.deepEqual(ops.filter((o) => o.type.startsWith('Conv2DBackprop')).map((o) => [o.type, o.name]),
      [['Conv2DBackpropFilter', 'gradients/ToyNet/conv_output_bn/conv_/Conv2DBackpropFilter']]);
    const applied = ops.filter((o) => o.type === 'ResourceApplyAdam').map((o) => o.name.replace(/^ApplyGradients\/|\/ResourceApplyAdam$/g, '')).sort();
    assert.deepEqual(applied, req.selection.trained.slice().sort(), 'one optimiser update per trained variable, none for frozen ones');
  } finally {
    step.dispose();
  }
});

test('graph engine: a stage stopped, or killed with SIGKILL, and resumed ends bit-identical to an uninterrupted one', async () => {
  const spec = { ...graphOnly, settings: { ...graphOnly.settings, save_every_n: 3 } };
  const end = 8;
  const logs: string[] = [];
  const whole: StageResult = await runStage(stageRequest({ ...spec, modelDir: tempDir('g-whole'), end }), { onLog: (l) => logs.push(l) });
  assert.equal(whole.engine, 'graph');
  assert.ok(logs.some((l) => /^training engine: graph \(libtensorflow .* C API/.test(l)), logs.join('\n'));
  assert.equal(((await readSidecar(whole.checkpoint)) as { engine: string }).engine, 'graph');

  const stoppedDir = tempDir('g-stopped');
  const controller = new AbortController();
  const first = await runStage(stageRequest({ ...spec, modelDir: stoppedDir, end }), {
    ...quiet, signal: controller.signal, onProgress: (p) => p.iteration === 4 && controller.abort(),
  });
  assert.equal(first.stopped, true);
  const resumed = await runStage(stageRequest({ ...spec, modelDir: stoppedDir, end }), quiet);
  assert.equal(resumed.resumedFrom, first.reachedIteration);
  await assertIdentical(whole.checkpoint, resumed.checkpoint);

  const killedDir = tempDir('g-killed');
  let pid = 0;
  const crashed = runStage(stageRequest({ ...spec, modelDir: killedDir, end }), {
    ...quiet, onStart: (p) => (pid = p), onProgress: (p) => p.iteration === 5 && process.kill(pid, 'SIGKILL'),
  });
  await assert.rejects(crashed, /killed by SIGKILL/);
  assert.ok(readdirSync(path.join(killedDir, 'models')).includes('model.ckpt-3.index'));
  const afterKill = await runStage(stageRequest({ ...spec, modelDir: killedDir, end }), quiet);
  assert.equal(afterKill.resumedFrom, 3);
  await assertIdentical(whole.checkpoint, afterKill.checkpoint);
});

test('graph engine: DenseVNet with its random affine warp resumes bit-identical after SIGKILL', async () => {
  const network = { name: 'dense_vnet', params: { n_dense_channels: [2, 4], n_seg_channels: [4, 4], n_down_channels: [4, null], dilation_rates: [[1, 1], [1, 1, 1]] } };
  const spec = { network, size: [16, 16, 16], settings: { engine: 'graph' as const, save_every_n: 2, batch_size: 1 } };
  const end = 6;
  const whole = await runStage(stageRequest({ ...spec, modelDir: tempDir('dv-whole'), end }), quiet);
  assert.equal(whole.engine, 'graph');
  const dir = tempDir('dv-killed');
  let pid = 0;
  await assert.rejects(runStage(stageRequest({ ...spec, modelDir: dir, end }), {
    ...quiet, onStart: (p) => (pid = p), onProgress: (p) => p.iteration === 3 && process.kill(pid, 'SIGKILL'),
  }), /killed by SIGKILL/);
  const resumed = await runStage(stageRequest({ ...spec, modelDir: dir, end }), quiet);
  assert.equal(resumed.resumedFrom, 2);
  await assertIdentical(whole.checkpoint, resumed.checkpoint);
});

test('an op the graph engine cannot differentiate is refused at stage start, naming op and layer; auto falls back to tfjs', async () => {
  const saved = GRADIENTS.Conv2D;
  delete GRADIENTS.Conv2D;
  try {
    const dir = tempDir('refused');
    await assert.rejects(trainInProcess(stageRequest({ modelDir: dir, end: 2, ...graphOnly }), SETTINGS), (err: Error) => {
      assert.ok(isUserError(err) && err.type === 'UndifferentiableOp', String(err));
      assert.match(err.message, /Conv2D/);
      assert.match(err.message, /layer ToyNet\/conv_input_bn_relu\/conv_/);
      return true;
    });
    assert.ok(!existsSync(path.join(dir, 'models')) || readdirSync(path.join(dir, 'models')).length === 0, 'nothing was trained or written');
    const logs: string[] = [];
    const fallback = await trainInProcess(stageRequest({ modelDir: tempDir('fallback'), end: 2, settings: { engine: 'auto' } }), SETTINGS, { log: (l) => logs.push(l) });
    assert.equal(fallback.engine, 'tfjs');
    assert.ok(logs.some((l) => /training engine: tfjs \[auto\] \(graph engine not used: .*Conv2D.*ToyNet\/conv_input_bn_relu\/conv_/.test(l)), logs.join('\n'));
  } finally {
    GRADIENTS.Conv2D = saved;
  }
});

test('THAW_ENGINE (settings.training.engine) overrides the stage setting (an unknown one: test/settings.test.ts)', () => {
  assert.equal(requestedEngine(undefined), 'auto');
  assert.equal(requestedEngine('tfjs'), 'tfjs');
  assert.equal(requestedEngine('tfjs', 'graph'), 'graph');
});

test('every loss_type on the graph equals the tfjs engine\'s (2-D and 3-D, 2 and 4 classes)', async () => {
  const { tf } = await loadBackend('tensorflow');
  const c = loadTfC(SETTINGS.training.tfPackageDir);
  for (const [s, shape] of [[2, 6, 5, 2], [3, 4, 3, 5, 4]].entries()) {
    const rng = testStream(s, 11);
    const n = shape.reduce((a, b) => a * b, 1);
    const logits = Float32Array.from({ length: n }, () => 2 * rng.normal());
    const labels = Int32Array.from({ length: n / shape.at(-1)! }, () => rng.int(shape.at(-1)!));
    const g = new GraphBuilder(c, GRADIENTS);
    try {
      const x = g.placeholder('logits', 'float32', shape);
      const y = g.placeholder('labels', 'int32', shape.slice(0, -1));
      const losses = LOSS_TYPES.map((t) => graphSegmentationLoss(g, t, x, y));
      const session = c.TF_NewSession(g.graph, c.TF_NewSessionOptions(), g.status.ptr);
      g.status.check('session');
      const feeds = [newTensor(c, 'float32', shape, logits), newTensor(c, 'int32', shape.slice(0, -1), labels)];
      const outs: unknown[] = losses.map(() => null);
      c.TF_SessionRun(session, null, [x, y].map((v) => ({ oper: v.op, index: v.index })), feeds, 2,
        losses.map((l) => ({ oper: l.op, index: l.index })), outs, outs.length, null, 0, null, g.status.ptr);
      g.status.check('run');
      LOSS_TYPES.forEach((t, i) => {
        const ours = readFloat32(c, outs[i])[0];
        const ref = tf.tidy(() => segmentationLoss(tf, t, tf.tensor(logits, shape), tf.tensor(labels, shape.slice(0, -1), 'int32')).dataSync()[0]);
        assert.ok(Math.abs(ours - ref) <= 1e-6 * Math.max(1, Math.abs(ref)), `${t} on ${JSON.stringify(shape)}: graph ${ours}, tfjs ${ref}`);
      });
      for (const t of [...feeds, ...outs]) c.TF_DeleteTensor(t);
      c.TF_CloseSession(session, g.status.ptr);
      c.TF_DeleteSession(session, g.status.ptr);
    } finally {
      g.dispose();
    }
  }
});
