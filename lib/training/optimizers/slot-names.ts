/**
 * TensorFlow 1 names of optimiser state, as NiftyNet writes them: per trained variable `<var>/Adam`, `<var>/Adam_1`
 * (Adam) or `<var>/Momentum`; Adam's power accumulators under the scope NiftyNet applies gradients in,
 * `ApplyGradients/beta1_power` and `ApplyGradients/beta2_power`. No `global_step`: NiftyNet keeps the iteration in
 * the checkpoint's file name only. Slots exist only for variables that were trained, which is why a stage that
 * unfreezes a variable can find no slots for it in its parent's checkpoint.
 */
import type { OptimizerName } from '../../pipeline/plan';
import type { VariableSpec } from '../networks/variable-spec';

/** The name scope of NiftyNet's apply_gradients (niftynet/engine/handler_gradient.py). */
export const OPTIMIZER_SCOPE = 'ApplyGradients';
export const BETA1_POWER = `${OPTIMIZER_SCOPE}/beta1_power`;
export const BETA2_POWER = `${OPTIMIZER_SCOPE}/beta2_power`;

export function perVariableSlotSuffixes(optimizer: OptimizerName): string[] {
  switch (optimizer) {
    case 'adam':
      return ['Adam', 'Adam_1'];
    case 'momentum':
      return ['Momentum'];
    case 'sgd':
      return [];
  }
}

/** Optimiser state that belongs to no single variable. */
export function globalSlotNames(optimizer: OptimizerName): string[] {
  return optimizer === 'adam' ? [BETA1_POWER, BETA2_POWER] : [];
}

/** Every optimiser variable of a stage's graph: slots of the trained variables and the optimiser's globals. */
export function optimizerVariables(optimizer: OptimizerName, trained: VariableSpec[]): VariableSpec[] {
  const slots: VariableSpec[] = [];
  for (const v of trained) {
    for (const suffix of perVariableSlotSuffixes(optimizer)) {
      slots.push({ name: `${v.name}/${suffix}`, shape: v.shape, dtype: v.dtype, trainable: false, role: 'optimizer_slot', layer: v.layer });
    }
  }
  for (const name of globalSlotNames(optimizer)) {
    slots.push({ name, shape: [], dtype: 'float32', trainable: false, role: 'optimizer_power', layer: '' });
  }
  return slots;
}

/** Whether a checkpoint variable is optimiser state (of any TF1 optimiser thaw knows), by name. */
export function isOptimizerStateName(name: string): boolean {
  return /\/(Adam|Adam_1|Momentum)$/.test(name) || /(^|\/)beta[12]_power$/.test(name);
}
