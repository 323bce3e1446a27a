/**
 * One variable of a network as the rest of thaw sees it: TensorFlow-1-style name without `:0`
 * (`HighRes3DNet/conv_0_bn_relu/conv_/w`), shape, dtype, whether an optimiser may train it, what it is (its role
 * decides its initial value) and which layer it belongs to. Network definitions produce these without TensorFlow.js,
 * so selection and preflight never load an engine.
 */
export type VariableRole =
  /** Convolution kernel [...k, in, out]: He normal over fan-in k^d·in, as NiftyNet's ConvLayer. */
  | 'weight'
  /** Transposed-convolution kernel [...k, out, in]: He normal over k^d·in, as NiftyNet's DeconvLayer. */
  | 'deconv_weight'
  | 'bias'
  | 'bn_beta'
  | 'bn_gamma'
  | 'bn_moving_mean'
  | 'bn_moving_variance'
  /** Zero-debias state of a moving average: `…/biased` and `…/local_step` (TF's assign_moving_average). */
  | 'bn_debias'
  /** Instance-norm offset and scale (0 and 1). */
  | 'norm_beta'
  | 'norm_gamma'
  /** prelu's per-channel slope (0, as NiftyNet's ActiLayer). */
  | 'prelu_alpha'
  /** A variable initialised to a constant (DenseVNet's spatial prior). */
  | 'constant'
  /** Per-variable optimiser state (`<var>/Adam`, `<var>/Adam_1`, `<var>/Momentum`): zero. */
  | 'optimizer_slot'
  /** Adam's `ApplyGradients/beta1_power` / `beta2_power`: beta. */
  | 'optimizer_power';

export interface VariableSpec {
  name: string;
  shape: number[];
  /** TensorFlow dtype name, e.g. `float32`, `int64`. */
  dtype: string;
  trainable: boolean;
  role: VariableRole;
  /**
   * The layer scope the variable belongs to (`HighRes3DNet/res_1_0/bn_0`): a batch-norm layer whose beta and gamma
   * are both frozen runs in inference mode, and its statistics count as frozen.
   */
  layer: string;
  /** Initial value of a `constant` variable. */
  init?: number;
}

/** Batch-norm state that training mode updates (moving statistics and their zero-debias variables). */
export function isBatchNormStatistic(v: VariableSpec): boolean {
  return v.role === 'bn_moving_mean' || v.role === 'bn_moving_variance' || v.role === 'bn_debias';
}
