/**
 * Fused TensorFlow kernels for the native backend (tfjs-node), called through its op executor: tfjs writes batch
 * norm in training mode and ReLU's gradient as several elementwise ops, each a full pass over memory; TensorFlow's
 * FusedBatchNormV3 / FusedBatchNormGradV3 / ReluGrad do each in one. Semantics match the plain-op path in
 * tfjs-ops.ts (biased batch variance for the moving average, as NiftyNet's tf.nn.moments).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from '../backend';

type Tensor = tfTypes.Tensor;
type Save = (tensors: Tensor[]) => void;

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: Tensor[], numOutputs: number): Tensor[];
}

export interface NativeKernels {
  /** Batch norm with batch statistics over every axis but the last; returns y and the biased batch mean/variance. */
  batchNormTraining(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): { y: Tensor; mean: Tensor; variance: Tensor };
  relu(x: Tensor): Tensor;
}

export function nativeKernels(tf: Tf): NativeKernels | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  const backend = tf.backend() as unknown as NativeBackend;
  if (typeof backend.executeMultipleOutputs !== 'function') return null;
  const b = backend.binding;
  const floatType = (name: string): OpAttr => ({ name, type: b.TF_ATTR_TYPE, value: b.TF_FLOAT });
  const bnAttrs = (epsilon: number): OpAttr[] => [
    floatType('T'), floatType('U'),
    { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
  ];

  const relu = tf.customGrad((x, save) => {
    const y = backend.executeSingleOutput('Relu', [floatType('T')], [x as Tensor]);
    (save as Save)([y]);
    return { value: y, gradFunc: (dy, saved) => backend.executeSingleOutput('ReluGrad', [floatType('T')], [dy as Tensor, saved[0]]) };
  }) as (x: Tensor) => Tensor;

  return {
    relu,
    batchNormTraining(x, gamma, beta, epsilon) {
      // The kernel wants 4-D NHWC; statistics are per channel over all other axes, so folding spatial axes is exact.
      const shape = x.shape;
      const x4 = shape.length === 4 ? x : x.reshape([shape[0], -1, shape[shape.length - 2], shape[shape.length - 1]]);
      const count = shape.slice(0, -1).reduce((p, d) => p * d, 1);
      let mean: Tensor | null = null;
      let variance: Tensor | null = null;
      const fused = tf.customGrad((xIn, scale, offset, save) => {
        const empty = tf.tensor1d([], 'float32');
        const [y, batchMean, batchVar, r1, r2, r3] = backend.executeMultipleOutputs(
          'FusedBatchNormV3', [...bnAttrs(epsilon), { name: 'exponential_avg_factor', type: b.TF_ATTR_FLOAT, value: 1 }],
          [xIn as Tensor, scale as Tensor, offset as Tensor, empty, empty], 6);
        mean = tf.keep(batchMean);
        // The kernel returns the unbiased variance; the moving average uses the biased one (tf.nn.moments).
        variance = tf.keep(batchVar.mul(tf.scalar((count - 1) / count)));
        (save as Save)([xIn as Tensor, scale as Tensor, r1, r2, r3]);
        return {
          value: y,
          gradFunc: (dy, saved) => {
            const [xs, sc, s1, s2, s3] = saved;
            const [dx, dScale, dOffset] = backend.executeMultipleOutputs('FusedBatchNormGradV3', bnAttrs(epsilon), [dy as Tensor, xs, sc, s1, s2, s3], 5);
            return [dx, dScale, dOffset];
          },
        };
      }) as (x: Tensor, scale: Tensor, offset: Tensor) => Tensor;
      const y = fused(x4, gamma, beta).reshape(shape);
      return { y, mean: mean!, variance: variance! };
    },
  };
}
