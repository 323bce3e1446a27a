/**
 * NiftyNet 0.6.0 as the reference (test/python/niftynet_reference.py): jobs in, results out, arrays through raw
 * files, weights through TensorFlow checkpoints written by thaw (so every comparison also proves that NiftyNet's
 * Saver restores what thaw writes).
 */
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeCheckpoint, type Tensor } from '../../lib/checkpoint';
import { keyOf, Stream } from '../../lib/data/random';
import { DEFAULT_SETTINGS } from '../../lib/pipeline/defaults';
import type { FrozenBatchNorm, TrainingSettings } from '../../lib/pipeline/plan';
import { compilePattern } from '../../lib/selection/pattern';
import type { Tf } from '../../lib/training/backend';
import { nativeKernels } from '../../lib/training/engine/native-kernels';
import { createVariables } from '../../lib/training/engine/tfjs-trainer';
import { TfjsLayerOps } from '../../lib/training/engine/tfjs-ops';
import { affineSamplerFor, trainingStep } from '../../lib/training/engine/training-step';
import { getNetwork } from '../../lib/training/networks';
import type { VariableSpec } from '../../lib/training/networks/variable-spec';
import { makeOptimizer } from '../../lib/training/optimizers';
import { trainingGraph } from '../../lib/training/stage-setup';
import { runPython } from './python';

export interface NetworkRef {
  name: string;
  /** The params as a user gives them (NiftyNet's class gets only these; its own defaults do the rest). */
  params: Record<string, unknown>;
}

export interface ArrayRef {
  file: string;
  shape: number[];
}

export interface ReferenceVariable {
  name: string;
  shape: number[];
  dtype: string;
  trainable: boolean;
}

/** A forward pass in training or inference mode, its output written to `output` (raw float32). */
export interface ForwardPass {
  training: boolean;
  output: string;
}

export type Job =
  | { kind: 'variables'; network: NetworkRef; spatial_size: number[] }
  /** One graph, one restore: the passes are calls of one network instance on shared variables, as NiftyNet's application makes them. */
  | { kind: 'forward'; network: NetworkRef; checkpoint: string; input: ArrayRef; passes: ForwardPass[]; affine?: ArrayRef | null }
  | {
    kind: 'step'; network: NetworkRef; checkpoint: string; input: ArrayRef; labels: ArrayRef; loss_type: string;
    optimizer: Record<string, unknown>; vars_to_freeze: string | null; frozen_batch_norm: 'batch' | 'moving'; save: string;
    affine?: ArrayRef | null;
  }
  | { kind: 'loss'; logits: ArrayRef; labels: ArrayRef; loss_type: string };

/** Runs jobs in one Python process (TensorFlow starts once); results in job order. */
export async function runNiftyNet(dir: string, jobs: Job[], timeoutMs = 600_000): Promise<unknown[]> {
  const file = path.join(dir, `jobs-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(jobs));
  const stdout = await runPython('niftynet_reference.py', [file], timeoutMs);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as unknown[];
}

export function writeArray(file: string, data: Float32Array | Int32Array, shape: number[]): ArrayRef {
  writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return { file, shape };
}

export function readFloat32(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

/** A reproducible stream for test data; the seed is in the test's name or message, so a failure can be replayed. */
export function testStream(seed: number, purpose: number): Stream {
  return new Stream(keyOf(seed, purpose, 77));
}

/**
 * Values for every variable that make a comparison sensitive to each of them: weights at He scale, batch-norm and
 * instance-norm parameters away from 0/1, moving statistics and zero-debias state as a trained network has them
 * (local_step 5), prelu slopes non-zero.
 */
export function randomValues(specs: readonly VariableSpec[], seed: number): Map<string, Float32Array> {
  const rng = testStream(seed, 1);
  const out = new Map<string, Float32Array>();
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const fanIn = spec.shape.length > 1 ? spec.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const draw = (): number => {
      switch (spec.role) {
        case 'weight':
        case 'deconv_weight':
          return rng.normal() * Math.sqrt(2 / fanIn);
        case 'bn_gamma':
        case 'norm_gamma':
          return 0.5 + rng.uniform();
        case 'bn_moving_variance':
          return 0.5 + rng.uniform();
        case 'bn_debias':
          return spec.name.endsWith('local_step') ? 5 : 0.3 * rng.uniform();
        case 'constant':
          return 0.5 + rng.uniform();
        case 'prelu_alpha':
          return 0.1 + 0.2 * rng.uniform();
        case 'optimizer_power':
          return spec.name.endsWith('beta2_power') ? 0.999 ** 5 : 0.9 ** 5;
        case 'optimizer_slot':
          // Adam's second moment is a mean of squares
          return spec.name.endsWith('/Adam_1') ? 1e-3 * rng.uniform() : 1e-2 * rng.normal();
        default:
          return 0.2 * rng.normal();
      }
    };
    const values = new Float32Array(n);
    for (let k = 0; k < n; k++) values[k] = draw();
    out.set(spec.name, values);
  }
  return out;
}

export async function writeValues(prefix: string, specs: readonly VariableSpec[], values: Map<string, Float32Array>): Promise<void> {
  const tensors = new Map<string, Tensor>(specs.map((s) => [s.name, { dtype: 'float32', shape: s.shape, data: values.get(s.name)! }]));
  await writeCheckpoint(prefix, tensors);
}

/** max |a − b| / max(1, max |b|): the comparison measure of the issue (relative to the reference's scale). */
export function relativeMaxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff: diff / Math.max(1, scale), scale };
}

// -- thaw's side of a comparison -------------------------------------------------------------------------------

export interface Case {
  network: string;
  params: Record<string, unknown>;
  /** Spatial size of the input. */
  size: number[];
}

/** A batch of 2 reproducible images (normal) and labels (uniform classes) for a case. */
export function caseBatch(c: Case, seed: number): { images: Float32Array; labels: Int32Array; shape: number[] } {
  const p = getNetwork(c.network).resolveParams(c.params);
  const shape = [2, ...c.size, p.in_channels];
  const rng = testStream(seed, 2);
  const voxels = 2 * c.size.reduce((a, b) => a * b, 1);
  const images = Float32Array.from({ length: voxels * p.in_channels }, () => rng.normal());
  const labels = Int32Array.from({ length: voxels }, () => rng.int(p.num_classes));
  return { images, labels, shape };
}

/** DenseVNet's augmentation transforms of a training forward pass (pure in seed and iteration), for both sides. */
export function caseTransforms(c: Case, seed: number): Float32Array | null {
  const p = getNetwork(c.network).resolveParams(c.params);
  const scale = p.augmentation_scale as number | undefined;
  if (c.network !== 'dense_vnet' || !(scale! > 0)) return null;
  return affineSamplerFor(seed, 0)(2, p.dims, scale!);
}

/** thaw's forward pass of a case on `tf` with the given variable values. */
export function thawForward(tf: Tf, c: Case, values: Map<string, Float32Array>, images: Float32Array, training: boolean,
  transforms: Float32Array | null): Float32Array {
  const net = getNetwork(c.network);
  const p = net.resolveParams(c.params);
  const specs = net.variables(c.params);
  const vars = new Map(specs.map((s) => [s.name, tf.variable(tf.tensor(values.get(s.name)!, s.shape), false)]));
  try {
    const ops = new TfjsLayerOps(tf, p.dims, vars, {
      training, frozenLayers: new Set(), frozenBatchNorm: 'moving',
      affineSampler: transforms ? () => transforms : undefined,
    }, nativeKernels(tf));
    const y = tf.tidy(() => net.forward(ops, tf.tensor(images, [2, ...c.size, p.in_channels]), c.params));
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  } finally {
    for (const v of vars.values()) v.dispose();
  }
}

export interface StepCase extends Case {
  /** vars_to_freeze (Python re, applied with search to `name:0` as NiftyNet does), or null. */
  freeze: string | null;
  frozenBatchNorm: FrozenBatchNorm;
}

/** The trained variable names of a step case under NiftyNet's rule (re.search on `name:0`). */
export function trainedBy(specs: readonly VariableSpec[], freeze: string | null): Set<string> {
  const pattern = freeze ? compilePattern(freeze) : null;
  return new Set(specs.filter((v) => v.trainable && !(pattern && pattern.test(`${v.name}:0`))).map((v) => v.name));
}

/** One thaw training step of a case from `values` (Adam, lr 0.01, DicePlusXEnt); the graph's values after it. */
export function thawStep(tf: Tf, c: StepCase, values: Map<string, Float32Array>, batch: ReturnType<typeof caseBatch>,
  seed: number): { loss: number; values: Map<string, Float32Array> } {
  const net = getNetwork(c.network);
  const params = net.resolveParams(c.params);
  const specs = net.variables(c.params);
  const graph = trainingGraph(specs, trainedBy(specs, c.freeze), 'adam');
  const settings: TrainingSettings = { ...DEFAULT_SETTINGS, lr: 0.01, loss_type: 'DicePlusXEnt', frozen_batch_norm: c.frozenBatchNorm };
  const { vars, tfNameToName } = createVariables(tf, graph, values);
  try {
    const ctx = {
      tf, graph: { net, params, ...graph }, vars, tfNameToName, optimizer: makeOptimizer(tf, vars, settings), settings, seed,
      kernels: nativeKernels(tf),
    };
    const loss = trainingStep(ctx, batch, 0);
    return { loss, values: new Map([...vars].map(([k, v]) => [k, v.dataSync() as Float32Array])) };
  } finally {
    for (const v of vars.values()) v.dispose();
  }
}

/** The variables of a step case's graph (network + Adam state of the trained ones). */
export function stepGraphVariables(c: StepCase): VariableSpec[] {
  const specs = getNetwork(c.network).variables(c.params);
  return trainingGraph(specs, trainedBy(specs, c.freeze), 'adam').variables;
}
