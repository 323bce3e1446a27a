/**
 * TensorFlow 1 names of optimiser state, which thaw writes and NiftyNet checkpoints contain:
 * per trained variable `<var>/Adam`, `<var>/Adam_1` (Adam) or `<var>/Momentum`; global `beta1_power`,
 * `beta2_power` (Adam); and `global_step` (int64) in every checkpoint. Slots exist only for variables that were
 * trained, which is why a stage that unfreezes a variable can find no slots for it in its parent's checkpoint.
 */
import type { OptimizerName } from '../../pipeline/plan';
import type { VariableSpec } from '../networks/variable-spec';

export const GLOBAL_STEP = 'global_step';

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

/** Optimiser state that belongs to no single variable (besides global_step). */
export function globalSlotNames(optimizer: OptimizerName): string[] {
  return optimizer === 'adam' ? ['beta1_power', 'beta2_power'] : [];
}

/** Every optimiser variable of a stage's graph: slots of the trained variables, the optimiser's globals, global_step. */
export function optimizerVariables(optimizer: OptimizerName, trained: VariableSpec[]): VariableSpec[] {
  const slots: VariableSpec[] = [];
  for (const v of trained) {
    for (const suffix of perVariableSlotSuffixes(optimizer)) {
      slots.push({ name: `${v.name}/${suffix}`, shape: v.shape, dtype: v.dtype, trainable: false, role: 'optimizer_slot', layer: v.layer });
    }
  }
  for (const name of globalSlotNames(optimizer)) {
    slots.push({ name, shape: [], dtype: 'float32', trainable: false, role: 'optimizer_slot', layer: '' });
  }
  slots.push({ name: GLOBAL_STEP, shape: [], dtype: 'int64', trainable: false, role: 'global', layer: '' });
  return slots;
}
