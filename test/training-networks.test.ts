/**
 * Networks, layer ops and backend selection: variable lists (without an engine) match what the forward pass uses,
 * NiftyNet-style names, the seed's DenseVNet regex, atrous convolution against tfjs' dilated conv, plugins, errors.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isUserError } from '../lib/errors';
import type { TrainingSettings } from '../lib/pipeline/plan';
import { backendPresent, loadBackend, requestedBackend } from '../lib/training/backend';
import { segmentationLoss } from '../lib/training/engine/losses';
import { nativeKernels } from '../lib/training/engine/native-kernels';
import { TfjsLayerOps } from '../lib/training/engine/tfjs-ops';
import { initialValue } from '../lib/training/init';
import { getNetwork, listNetworks, type NetworkDefinition } from '../lib/training/networks';
import { SETTINGS, tempDir } from './helpers/training';

const TINY: Record<string, Record<string, unknown>[]> = {
  toynet: [{ features: 3 }, { dims: 3, features: 2, layers: 1 }],
  unet: [{ base_features: 2, depth: 2 }, { dims: 3, base_features: 2, depth: 1 }],
  highres3dnet: [{ features: [2, 4], dilations: [1, 2], blocks: 1, head_features: 4 }, { dims: 2, features: [2], dilations: [3], blocks: 2, head_features: 3 }],
  dense_vnet: [{ units: [2, 1], growth: [2, 2], down_features: [3, 3], skip_features: [2, 2], stem_kernel: 3 }],
};

function forwardShape(net: NetworkDefinition, params: Record<string, unknown>, spatial: number[], settings: TrainingSettings = SETTINGS) {
  const p = net.resolveParams(params);
  const vars = new Map<string, tf.Variable>();
  for (const spec of net.variables(params)) vars.set(spec.name, tf.variable(tf.tensor(initialValue(spec, 1, settings), spec.shape)));
  const used = new Set<string>();
  const tracking = new Proxy(vars, {
    get(target, key) {
      if (key === 'get') return (name: string) => (used.add(name), target.get(name));
      return Reflect.get(target, key).bind(target);
    },
  });
  const ops = new TfjsLayerOps(tf, p.dims, tracking, { training: true, frozenLayers: new Set() });
  const x = tf.ones([2, ...spatial, p.in_channels]);
  const y = net.forward(ops, x, params);
  const shape = y.shape;
  tf.dispose([x, y, ...vars.values(), ...ops.bnUpdates.values()]);
  return { shape, used, declared: [...vars.keys()] };
}

test('every built-in network lists exactly the variables its forward pass uses, with NiftyNet-style names', async () => {
  await tf.setBackend('cpu');
  assert.deepEqual(listNetworks().map((n) => n.name), ['toynet', 'unet', 'highres3dnet', 'dense_vnet']);
  for (const [name, variants] of Object.entries(TINY)) {
    const net = getNetwork(name);
    for (const params of variants) {
      const p = net.resolveParams(params);
      const spatial = Array(p.dims).fill(2 * net.spatialMultiple(params));
      const { shape, used, declared } = forwardShape(net, params, spatial);
      assert.deepEqual(shape, [2, ...spatial, p.num_classes], `${name} ${JSON.stringify(params)}`);
      assert.deepEqual([...used].sort(), [...declared].sort(), `${name}: declared and used variables differ`);
      for (const v of net.variables(params)) {
        assert.match(v.name, /^[A-Za-z0-9]+\/.+\/(conv_\/[wb]|bn_\/(beta|gamma|moving_mean|moving_variance))$/);
        assert.ok(v.name.startsWith(`${v.layer}/`));
        assert.equal(v.trainable, !/moving_/.test(v.name));
      }
    }
  }
});

test("dense_vnet has DenseVNet/skip_conv/… and DenseVNet/fin_conv/…, so the seed's regex selects the encoder only", () => {
  const names = getNetwork('dense_vnet').variables({}).map((v) => v.name);
  const encoder = /^((?!DenseVNet\/(skip_conv|fin_conv)).)*$/;
  const decoder = names.filter((n) => !encoder.test(n));
  assert.ok(decoder.some((n) => n.startsWith('DenseVNet/skip_conv/')));
  assert.ok(decoder.some((n) => n.startsWith('DenseVNet/fin_conv/')));
  assert.ok(decoder.every((n) => /^DenseVNet\/(skip_conv|fin_conv)\//.test(n)));
  assert.ok(names.includes('DenseVNet/conv_1/conv_/w') && names.includes('DenseVNet/conv_1/bn_/moving_variance'));
  // Widths are configurable: the stem's kernel follows stem_kernel and in_channels.
  const stem = getNetwork('dense_vnet').variables({ stem_kernel: 3, in_channels: 2 }).find((v) => v.name === 'DenseVNet/conv_1/conv_/w');
  assert.deepEqual(stem?.shape, [3, 3, 3, 2, 24]);
});

test('atrous convolution (space-to-batch) equals a dilated convolution, 2-D and 3-D, odd sizes', async () => {
  await tf.setBackend('cpu');
  for (const dims of [2, 3] as const) {
    for (const [size, rate] of [[7, 2], [9, 3], [6, 4]]) {
      const spatial = Array(dims).fill(size);
      const x = tf.randomNormal([1, ...spatial, 2], 0, 1, 'float32', 3);
      const w = tf.variable(tf.randomNormal([...Array(dims).fill(3), 2, 3], 0, 1, 'float32', 4));
      const ops = new TfjsLayerOps(tf, dims, new Map([['L/conv_/w', w]]), { training: false, frozenLayers: new Set() });
      const ours = ops.conv(x, 'L', { filters: 3, dilation: rate });
      const reference = dims === 2
        ? tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'NHWC', rate)
        : tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, 'same', 'NDHWC', rate);
      assert.deepEqual(ours.shape, reference.shape);
      const diff = tf.max(tf.abs(ours.sub(reference))).dataSync()[0];
      assert.ok(diff < 1e-4, `dims ${dims} size ${size} rate ${rate}: max diff ${diff}`);
      tf.dispose([x, w, ours, reference]);
    }
  }
});

test('nearest upsampling repeats every spatial axis', async () => {
  await tf.setBackend('cpu');
  const ops = new TfjsLayerOps(tf, 2, new Map(), { training: false, frozenLayers: new Set() });
  const y = ops.upsample(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]), 2);
  assert.deepEqual(Array.from(y.dataSync()), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
});

test('unknown networks and bad params are UserErrors naming the field and the choices', () => {
  assert.throws(() => getNetwork('resnet'), (e: Error) => isUserError(e) && e.type === 'UnknownNetwork' && /toynet, unet, highres3dnet, dense_vnet/.test(e.details.fix ?? ''));
  assert.throws(() => getNetwork('unet').variables({ depht: 2 }), (e: Error) => isUserError(e) && e.details.field === 'network.params.depht');
  assert.throws(() => getNetwork('unet').variables({ dims: 4 }), (e: Error) => isUserError(e) && e.details.field === 'network.params.dims');
  assert.throws(() => getNetwork('highres3dnet').variables({ features: [4, 8], dilations: [1] }), (e: Error) => isUserError(e) && e.type === 'InvalidNetworkParams');
});

test('a user network module is loaded from a path relative to the pipeline folder', () => {
  const dir = tempDir('plugin');
  const define = path.resolve(__dirname, '..', 'lib', 'training', 'networks');
  writeFileSync(path.join(dir, 'my-net.js'), `
    const { defineNetwork, convBnRelu, classifier } = require(${JSON.stringify(define)});
    module.exports = defineNetwork({
      name: 'my_net', description: 'one layer',
      params: { dims: { kind: 'dims', default: 2, doc: 'dims' }, width: { kind: 'int', default: 5, doc: 'width' } },
      spatialMultiple: () => 1,
      forward: (ops, x, p) => classifier(ops, convBnRelu(ops, x, 'MyNet/conv_1', p.width), 'MyNet/out', p.num_classes),
    });`);
  const net = getNetwork('./my-net.js', { baseDir: dir });
  assert.deepEqual(net.variables({ width: 3 }).map((v) => `${v.name}${JSON.stringify(v.shape)}`), [
    'MyNet/conv_1/conv_/w[3,3,1,3]', 'MyNet/conv_1/bn_/beta[3]', 'MyNet/conv_1/bn_/gamma[3]',
    'MyNet/conv_1/bn_/moving_mean[3]', 'MyNet/conv_1/bn_/moving_variance[3]', 'MyNet/out/conv_/w[1,1,3,2]', 'MyNet/out/conv_/b[2]',
  ]);
  assert.throws(() => getNetwork('./missing.js', { baseDir: dir }), (e: Error) => isUserError(e) && e.type === 'UnknownNetwork');
  writeFileSync(path.join(dir, 'empty.js'), 'module.exports = {};');
  assert.throws(() => getNetwork('./empty.js', { baseDir: dir }), (e: Error) => isUserError(e) && e.type === 'InvalidNetworkModule');
});

test('backend choice: THAW_BACKEND overrides the pipeline; absent or unknown backends are UserErrors', async () => {
  assert.equal(requestedBackend('auto', { THAW_BACKEND: 'cpu' }), 'cpu');
  assert.equal(requestedBackend('tensorflow', {}), 'tensorflow');
  assert.throws(() => requestedBackend('auto', { THAW_BACKEND: 'tpu' }), (e: Error) => isUserError(e) && e.type === 'UnknownBackend');
  const cpu = await loadBackend('cpu');
  assert.equal(cpu.tf.getBackend(), 'cpu');
  if (!backendPresent('tensorflow-gpu')) {
    await assert.rejects(loadBackend('tensorflow-gpu'), (e: Error) => isUserError(e) && e.type === 'BackendUnavailable' && /build-tfjs-node/.test(e.details.fix ?? ''));
  }
  if (backendPresent('tensorflow')) {
    const logs: string[] = [];
    const auto = await loadBackend('auto', (l) => logs.push(l));
    assert.equal(auto.name, backendPresent('tensorflow-gpu') ? 'tensorflow-gpu' : 'tensorflow');
    assert.match(logs[0], /training backend: tensorflow/);
  }
});

test('native fused kernels (batch norm, ReLU) give the same loss, gradients and statistics as plain tfjs ops', { skip: !backendPresent('tensorflow') }, async () => {
  const { tf: ntf } = await loadBackend('tensorflow');
  const kernels = nativeKernels(ntf);
  assert.ok(kernels, 'native kernels available on the tensorflow backend');
  for (const [name, params, spatial] of [['toynet', { features: 3 }, [6, 6]], ['unet', { dims: 3, base_features: 2, depth: 1 }, [4, 4, 4]]] as const) {
    const net = getNetwork(name);
    const p = net.resolveParams(params);
    const vars = new Map<string, tf.Variable>();
    for (const spec of net.variables(params)) vars.set(spec.name, ntf.variable(ntf.tensor(initialValue(spec, 2, SETTINGS), spec.shape)));
    const x = ntf.randomNormal([2, ...spatial, 1], 0, 1, 'float32', 5);
    const labels = ntf.tensor(Array.from({ length: 2 * spatial.reduce((a, b) => a * b, 1) }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0), [2, ...spatial], 'int32');
    const trainable = [...vars].filter(([n]) => !/moving/.test(n)).map(([, v]) => v);
    const run = (k: typeof kernels | null) => {
      const ops = new TfjsLayerOps(ntf, p.dims, vars, { training: true, frozenLayers: new Set() }, k);
      const { value, grads } = ntf.variableGrads(() => segmentationLoss(ntf, 'dice_plus_xent', net.forward(ops, x, params), labels), trainable);
      const stats = Object.fromEntries([...ops.bnUpdates].map(([n, t]) => [n, Array.from(t.dataSync())]));
      return { loss: value.dataSync()[0], grads: Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, Array.from(g.dataSync())])), stats };
    };
    const fused = run(kernels);
    const plain = run(null);
    assert.ok(Math.abs(fused.loss - plain.loss) < 1e-5, `${name} loss ${fused.loss} vs ${plain.loss}`);
    for (const [n, g] of Object.entries(plain.grads)) {
      const d = Math.max(...g.map((v, i) => Math.abs(v - fused.grads[n][i])));
      assert.ok(d < 1e-4, `${name} grad ${n}: max diff ${d}`);
    }
    for (const [n, s] of Object.entries(plain.stats)) {
      const d = Math.max(...s.map((v, i) => Math.abs(v - fused.stats[n][i])));
      assert.ok(d < 1e-5, `${name} ${n}: max diff ${d}`);
    }
  }
});
