/**
 * One variable of a network as the rest of thaw sees it: TensorFlow-1-style name without `:0`
 * (`DenseVNet/conv_1/w`), shape, dtype, whether an optimiser may train it, and which layer it belongs to.
 * Network definitions produce these without TensorFlow.js, so selection and preflight never load an engine.
 */
export type VariableRole =
  | 'weight'
  | 'bias'
  | 'bn_gamma'
  | 'bn_beta'
  | 'bn_moving_mean'
  | 'bn_moving_variance'
  | 'optimizer_slot'
  | 'global';

export interface VariableSpec {
  name: string;
  shape: number[];
  /** TensorFlow dtype name, e.g. `float32`, `int64`. */
  dtype: string;
  trainable: boolean;
  role: VariableRole;
  /** The layer scope the variable belongs to (`DenseVNet/conv_1`): batch-norm statistics follow their layer's freeze. */
  layer: string;
}
