/**
 * Networks, layer ops and backend selection: variable lists (without an engine) match what the forward pass uses,
 * input-size constraints, the seed's DenseVNet regex on the real DenseVNet, atrous convolution against tfjs' dilated
 * conv, plugins, errors. (Equality with NiftyNet itself: networks-niftynet*.test.ts.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';
import { isUserError } from '../lib/errors';
import type { TrainingSettings } from '../lib/pipeline/plan';
import { backendPresent, loadBackend, requestedBackend } from '../lib/training/backend';
import { segmentationLoss } from '../lib/training/engine/losses';
import { nativeKernels } from '../lib/training/engine/native-kernels';
import { TfjsLayerOps } from '../lib/training/engine/tfjs-ops';
import { initialValue } from '../lib/training/init';
import { compilePattern } from '../lib/selection/pattern';
import { getNetwork, type NetworkDefinition } from '../lib/training/networks';
import { SETTINGS, tempDir } from './helpers/training';

/** Small parameter sets of every built-in network, at input sizes each takes. */
const TINY: [string, Record<string, unknown>, number[]][] = [
  ['toynet', { hidden_features: 3 }, [6, 6]],
  ['toynet', { dims: 3, hidden_features: 2, in_channels: 2 }, [4, 4, 4]],
  ['highres3dnet', { conv_0_features: 2, res_features: [2, 4, 4], res_repeat: 1, conv_1_features: 4, activation_function: 'prelu' }, [8, 8, 8]],
  ['highres3dnet_small', { conv_0_features: 2, res_features: [2, 2, 4], res_repeat: 1, conv_1_features: 4, dims: 2 }, [16, 16]],
  ['highres3dnet_large', { conv_0_features: 2, res_features: [2, 2, 4], res_repeat: 1, conv_1_features: 4, conv_2_features: 3 }, [8, 8, 8]],
  ['dense_vnet', { n_initial_conv_channels: 3, n_dense_channels: [2, 2], n_seg_channels: [2, 2], n_down_channels: [3, null], dilation_rates: [[1, 1], [1]], use_prior: true, prior_size: 4 }, [8, 8, 8]],
  ['unet', { n_features: [2, 2, 2, 2, 2], dims: 2 }, [96, 96]],
  ['unet_2d', { n_features: [2, 2, 2, 2, 2] }, [188, 188]],
  ['vnet', { n_features: [2, 2, 2, 2, 2], activation_function: 'prelu', in_channels: 2 }, [16, 16, 16]],
  ['no_new_net', { n_features: [2, 2, 2, 2, 2], activation_function: 'prelu' }, [16, 16, 16]],
];

const TRAINABLE_ROLES = new Set(['weight', 'deconv_weight', 'bias', 'bn_beta', 'bn_gamma', 'norm_beta', 'norm_gamma', 'prelu_alpha', 'constant']);

async function forwardShape(net: NetworkDefinition, params: Record<string, unknown>, spatial: number[], settings: TrainingSettings = SETTINGS) {
  const { tf } = await loadBackend('auto');
  const p = net.resolveParams(params);
  const vars = new Map<string, tfTypes.Variable>();
  for (const spec of net.variables(params)) vars.set(spec.name, tf.variable(tf.tensor(initialValue(spec, 1, settings), spec.shape)));
  const used = new Set<string>();
  const tracking = new Proxy(vars, {
    get(target, key) {
      if (key === 'get') return (name: string) => (used.add(name), target.get(name));
      return Reflect.get(target, key).bind(target);
    },
  });
  const ops = new TfjsLayerOps(tf, p.dims, tracking, { training: true, frozenLayers: new Set(), frozenBatchNorm: 'moving' });
  const x = tf.ones([2, ...spatial, p.in_channels]);
  const y = net.forward(ops, x, params);
  const shape = y.shape;
  tf.dispose([x, y, ...vars.values(), ...ops.bnUpdates.values()]);
  return { shape, used, declared: [...vars.keys()] };
}

test('every built-in network lists exactly the variables its forward pass uses, and the output shape it gives', async () => {
  for (const [name, params, spatial] of TINY) {
    const net = getNetwork(name);
    const p = net.resolveParams(params);
    assert.equal(net.inputSizeProblem(params, spatial), null, `${name} takes ${spatial}`);
    const { shape, used, declared } = await forwardShape(net, params, spatial);
    assert.deepEqual(shape, [2, ...net.outputSize(params, spatial), p.num_classes], `${name} ${JSON.stringify(params)}`);
    assert.deepEqual([...used].sort(), [...declared].sort(), `${name}: declared and used variables differ`);
    for (const v of net.variables(params)) {
      assert.ok(v.name.startsWith(`${v.layer}/`), `${v.name} belongs to ${v.layer}`);
      assert.equal(v.trainable, TRAINABLE_ROLES.has(v.role), `${v.name} (${v.role})`);
    }
  }
});

test('input sizes a network cannot take are named with NiftyNet\'s constraint', () => {
  assert.match(getNetwork('highres3dnet').inputSizeProblem({}, [12, 16, 16]) ?? '', /divisible by 8, got \[12, 16, 16\]/);
  assert.match(getNetwork('unet').inputSizeProblem({}, [64, 64, 64]) ?? '', /at least 89/);
  assert.match(getNetwork('unet_2d').inputSizeProblem({}, [64, 64]) ?? '', /VALID convolution UNet2D\/TwoConv_\d\/conv_bn_relu(_1)?\/conv_ leaves a spatial size/);
  assert.equal(getNetwork('unet_2d').inputSizeProblem({}, [572, 572]), null);
  assert.deepEqual(getNetwork('unet_2d').outputSize({}, [572, 572]), [388, 388]);
  assert.deepEqual(getNetwork('unet').outputSize({}, [96, 96, 96]), [8, 8, 8]);
});

test('the seed\'s DenseVNet regex excludes nothing on NiftyNet 0.6.0\'s DenseVNet; the head has other names', () => {
  const names = getNetwork('dense_vnet').variables({}).map((v) => v.name);
  const seed = compilePattern(String.raw`^((?!DenseVNet\/(skip_conv|fin_conv)).)*$`);
  assert.equal(seed.filter(names).length, names.length);
  const head = names.filter((n) => !compilePattern(String.raw`^((?!DenseVNet\/(conv\/|dense_feature_stack_block(_\d)?\/conv_bn_relu\/)).)*$`).test(n));
  assert.deepEqual([...new Set(head.map((n) => n.split('/').slice(0, -1).filter((s) => !/^(conv_|bn_)$/.test(s)).slice(0, 3).join('/')))], [
    'DenseVNet/dense_feature_stack_block/conv_bn_relu', 'DenseVNet/dense_feature_stack_block_1/conv_bn_relu',
    'DenseVNet/dense_feature_stack_block_2/conv_bn_relu', 'DenseVNet/conv',
  ]);
});

test('atrous convolution (space-to-batch) equals a dilated convolution, 2-D and 3-D, odd sizes', async () => {
  await tf.setBackend('cpu');
  for (const dims of [2, 3] as const) {
    for (const [size, rate] of [[7, 2], [9, 3], [6, 4]]) {
      const spatial = Array(dims).fill(size);
      const x = tf.randomNormal([1, ...spatial, 2], 0, 1, 'float32', 3);
      const w = tf.variable(tf.randomNormal([...Array(dims).fill(3), 2, 3], 0, 1, 'float32', 4));
      const ops = new TfjsLayerOps(tf, dims, new Map([['L/w', w]]), { training: false, frozenLayers: new Set(), frozenBatchNorm: 'moving' });
      const ours = ops.conv(x, 'L', { filters: 3, kernel: 3, dilation: rate });
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

test('unknown networks and bad params are UserErrors naming the field and the choices', () => {
  assert.throws(() => getNetwork('resnet'), (e: Error) => isUserError(e) && e.type === 'UnknownNetwork' && /highres3dnet, highres3dnet_small, highres3dnet_large, dense_vnet, unet, unet_2d, vnet, no_new_net, toynet/.test(e.details.fix ?? ''));
  assert.throws(() => getNetwork('highres3dnet').variables({ features: [16, 32] }), (e: Error) => isUserError(e) && e.details.field === 'network.params.features' &&
    /NiftyNet's highres3dnet has no such setting; use one of: in_channels, num_classes, dims, activation_function, conv_0_features/.test(e.details.fix ?? ''));
  assert.throws(() => getNetwork('unet').variables({ dims: 4 }), (e: Error) => isUserError(e) && e.details.field === 'network.params.dims');
  assert.throws(() => getNetwork('no_new_net').variables({ dims: 2 }), (e: Error) => isUserError(e) && /3-D only/.test(e.message));
  assert.throws(() => getNetwork('highres3dnet').variables({ res_features: [4, 8] }), (e: Error) => isUserError(e) && /must have 3 entries/.test(e.message));
  assert.throws(() => getNetwork('highres3dnet').variables({ activation_function: 'swish' }), (e: Error) => isUserError(e) && /must be one of relu, relu6, elu/.test(e.message));
  assert.throws(() => getNetwork('dense_vnet').variables({ dilation_rates: [[1, 2], [1], [1]] }), (e: Error) => isUserError(e) && /does not implement/.test(e.message));
  assert.throws(() => getNetwork('dense_vnet').variables({ use_bdo: true }), (e: Error) => isUserError(e) && e.details.field === 'network.params.use_bdo');
  assert.throws(() => getNetwork('dense_vnet').variables({ n_seg_channels: [4, 4] }), (e: Error) => isUserError(e) && /has 2 entries but n_dense_channels has 3/.test(e.message));
});

test('a user network module is loaded from a path relative to the pipeline folder', () => {
  const dir = tempDir('plugin');
  const define = path.resolve(__dirname, '..', 'lib', 'training', 'networks');
  writeFileSync(path.join(dir, 'my-net.js'), `
    const { defineNetwork, convolutionalLayer, Scope } = require(${JSON.stringify(define)});
    module.exports = defineNetwork({
      name: 'my_net', description: 'one layer',
      params: { dims: { kind: 'dims', default: 2, doc: 'dims' }, width: { kind: 'int', default: 5, doc: 'width' } },
      referenceSize: () => 4,
      forward(ops, x, p) {
        const root = new Scope('MyNet');
        const h = convolutionalLayer(ops, x, root, 'conv', { filters: p.width, acti: 'relu' });
        return convolutionalLayer(ops, h, root, 'out', { filters: p.num_classes, kernel: 1, normalization: null, bias: true });
      },
    });`);
  const net = getNetwork('./my-net.js', { baseDir: dir });
  const bn = 'MyNet/conv_bn_relu/bn_';
  assert.deepEqual(net.variables({ width: 3 }).map((v) => `${v.name}${JSON.stringify(v.shape)}`), [
    'MyNet/conv_bn_relu/conv_/w[3,3,1,3]', `${bn}/beta[3]`, `${bn}/gamma[3]`, `${bn}/moving_mean[3]`, `${bn}/moving_variance[3]`,
    `${bn}/${bn}/moving_mean/biased[3]`, `${bn}/${bn}/moving_mean/local_step[]`,
    `${bn}/${bn}/moving_variance/biased[3]`, `${bn}/${bn}/moving_variance/local_step[]`,
    'MyNet/out/conv_/w[1,1,3,2]', 'MyNet/out/conv_/b[2]',
  ]);
  assert.throws(() => getNetwork('./missing.js', { baseDir: dir }), (e: Error) => isUserError(e) && e.type === 'UnknownNetwork');
  writeFileSync(path.join(dir, 'empty.js'), 'module.exports = {};');
  assert.throws(() => getNetwork('./empty.js', { baseDir: dir }), (e: Error) => isUserError(e) && e.type === 'InvalidNetworkModule');
});

test('backend choice: THAW_BACKEND (settings.training.backend) overrides the pipeline; absent backends are UserErrors', async () => {
  assert.equal(requestedBackend('auto', 'cpu'), 'cpu');
  assert.equal(requestedBackend('tensorflow'), 'tensorflow');
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

test('the native ReLU kernel gives the same loss and gradients as plain tfjs ops', { skip: !backendPresent('tensorflow') }, async () => {
  const { tf: ntf } = await loadBackend('tensorflow');
  const kernels = nativeKernels(ntf);
  assert.ok(kernels, 'native kernels available on the tensorflow backend');
  for (const [name, params, spatial] of [TINY[0], TINY[2]]) {
    const net = getNetwork(name);
    const p = net.resolveParams(params);
    const vars = new Map<string, tfTypes.Variable>();
    for (const spec of net.variables(params)) vars.set(spec.name, ntf.variable(ntf.tensor(initialValue(spec, 2, SETTINGS), spec.shape)));
    const x = ntf.randomNormal([2, ...spatial, p.in_channels], 0, 1, 'float32', 5);
    const labels = ntf.tensor(Array.from({ length: 2 * spatial.reduce((a, b) => a * b, 1) }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0), [2, ...spatial], 'int32');
    const trainable = net.variables(params).filter((v) => v.trainable).map((v) => vars.get(v.name)!);
    const run = (k: typeof kernels | null) => {
      const ops = new TfjsLayerOps(ntf, p.dims, vars, { training: true, frozenLayers: new Set(), frozenBatchNorm: 'moving' }, k);
      const { value, grads } = ntf.variableGrads(() => segmentationLoss(ntf, 'DicePlusXEnt', net.forward(ops, x, params), labels), trainable);
      return { loss: value.dataSync()[0], grads: Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, Array.from(g.dataSync())])) };
    };
    const native = run(kernels);
    const plain = run(null);
    assert.equal(native.loss, plain.loss, `${name} loss`);
    for (const [n, g] of Object.entries(plain.grads)) assert.deepEqual(native.grads[n], g, `${name} grad ${n}`);
  }
});
