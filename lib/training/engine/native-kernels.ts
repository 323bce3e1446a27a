/**
 * A native kernel for the tensorflow backend (tfjs-node), called through its op executor: tfjs writes ReLU's gradient
 * as a step and a multiply, two passes over memory; TensorFlow's ReluGrad does it in one, with the same result (it is
 * the gradient TensorFlow's own graph uses). Batch norm stays on plain ops: the fused kernel does not give NiftyNet's
 * numbers (see tfjs-ops.ts).
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
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
}

export interface NativeKernels {
  relu(x: Tensor): Tensor;
}

export function nativeKernels(tf: Tf): NativeKernels | null {
  if (tf.getBackend() !== 'tensorflow') return null;
  const backend = tf.backend() as unknown as NativeBackend;
  if (typeof backend.executeSingleOutput !== 'function') return null;
  const floatType: OpAttr = { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
  const relu = tf.customGrad((x, save) => {
    const y = backend.executeSingleOutput('Relu', [floatType], [x as Tensor]);
    (save as Save)([y]);
    return { value: y, gradFunc: (dy, saved) => backend.executeSingleOutput('ReluGrad', [floatType], [dy as Tensor, saved[0]]) };
  }) as (x: Tensor) => Tensor;
  return { relu };
}
