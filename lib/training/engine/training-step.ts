/**
 * One training step on TensorFlow.js, as NiftyNet's graph runs it: forward in training mode, NiftyNet's loss on
 * the labels (centre-cropped to the output for networks whose output is smaller than their input), gradients of the
 * trained variables only, the optimiser update, and the batch-norm moving averages (which NiftyNet runs before the
 * update, from the same forward pass). Every random draw of the step (DenseVNet's augmentation) is a pure function
 * of (seed, iteration).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Batch } from '../../data';
import { keyOf, Purpose, Stream } from '../../data/random';
import type { TrainingSettings } from '../../pipeline/plan';
import type { Tf } from '../backend';
import type { CommonParams, NetworkDefinition } from '../networks';
import type { VariableSpec } from '../networks/variable-spec';
import type { Optimizer } from '../optimizers';
import { randomAffineTransforms, type AffineSampler } from './affine-warp';
import { segmentationLoss } from './losses';
import type { NativeKernels } from './native-kernels';
import { TfjsLayerOps } from './tfjs-ops';

type Variable = tfTypes.Variable;

export interface StepGraph {
  net: NetworkDefinition;
  params: CommonParams & Record<string, unknown>;
  trained: VariableSpec[];
  frozenLayers: ReadonlySet<string>;
}

export interface StepContext {
  tf: Tf;
  graph: StepGraph;
  vars: Map<string, Variable>;
  /** tfjs variable name → TF1 name (tfjs names are process-global, so the trainer makes them unique). */
  tfNameToName: Map<string, string>;
  optimizer: Optimizer;
  settings: TrainingSettings;
  seed: number;
  kernels: NativeKernels | null;
}

/** The step's random affine transforms for DenseVNet's augmentation: pure in (seed, iteration). */
export function affineSamplerFor(seed: number, iteration: number): AffineSampler {
  return (batch, dims, scale) => {
    const stream = new Stream(keyOf(seed, iteration, Purpose.affineAugmentation));
    return randomAffineTransforms(() => stream.uniform(), batch, dims, scale);
  };
}

/** Labels [B, ...spatial] centre-cropped to `size` (the network's output size). */
export function cropLabels(labels: Int32Array, shape: number[], size: number[]): Int32Array {
  const [batch, ...spatial] = shape;
  if (spatial.every((s, i) => s === size[i])) return labels;
  const offsets = spatial.map((s, i) => Math.floor((s - size[i]) / 2));
  const inStrides = spatial.map((_, a) => spatial.slice(a + 1).reduce((p, s) => p * s, 1));
  const outVoxels = size.reduce((p, s) => p * s, 1);
  const inVoxels = spatial.reduce((p, s) => p * s, 1);
  const out = new Int32Array(batch * outVoxels);
  for (let b = 0; b < batch; b++) {
    for (let v = 0; v < outVoxels; v++) {
      let rest = v;
      let source = b * inVoxels;
      for (let a = size.length - 1; a >= 0; a--) {
        source += ((rest % size[a]) + offsets[a]) * inStrides[a];
        rest = Math.floor(rest / size[a]);
      }
      out[b * outVoxels + v] = labels[source];
    }
  }
  return out;
}

/** Runs one step on `batch` (the batch of `iteration`) and returns its loss. */
export function trainingStep(ctx: StepContext, batch: Batch, iteration: number): number {
  const { tf, graph, vars } = ctx;
  const trainedVars = graph.trained.map((v) => vars.get(v.name)!);
  const ops = new TfjsLayerOps(tf, graph.params.dims, vars, {
    training: true, frozenLayers: graph.frozenLayers, frozenBatchNorm: ctx.settings.frozen_batch_norm,
    affineSampler: affineSamplerFor(ctx.seed, iteration),
  }, ctx.kernels);
  const spatial = batch.shape.slice(1, -1);
  const outSize = graph.net.outputSize(graph.params, spatial);
  const labels = cropLabels(batch.labels, batch.shape.slice(0, -1), outSize);
  let loss = NaN;
  tf.tidy(() => {
    const x = tf.tensor(batch.images, batch.shape, 'float32');
    const y = tf.tensor(labels, [batch.shape[0], ...outSize], 'int32');
    const { value, grads } = tf.variableGrads(
      () => segmentationLoss(tf, ctx.settings.loss_type, graph.net.forward(ops, x, graph.params), y),
      trainedVars,
    );
    const byName = new Map(Object.entries(grads).map(([tfName, g]) => [ctx.tfNameToName.get(tfName)!, g]));
    // NiftyNet applies the gradients under a control dependency on the batch-norm updates: both use this forward.
    for (const [name, update] of ops.bnUpdates) vars.get(name)!.assign(update);
    ctx.optimizer.apply(byName);
    loss = value.dataSync()[0];
  });
  for (const update of ops.bnUpdates.values()) update.dispose();
  return loss;
}
