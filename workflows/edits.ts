/** Changes to not-yet-started stages (the `editStage` update): checked and applied to a copy of the plan. Pure. */
import type { Plan } from '../lib/pipeline/plan';
import type { StageEdit, StageState } from '../contract';

/** Throws (rejecting the update before it is accepted) when the edit cannot apply. */
export function validateEdit(plan: Plan, state: (stage: string) => StageState | undefined, edit: StageEdit): void {
  const stage = plan.stages.find((s) => s.name === edit?.stage);
  if (!stage) {
    throw new Error(`no stage is named "${edit?.stage}": stages are ${plan.stages.map((s) => s.name).join(', ')}`);
  }
  if (edit.lr === undefined && edit.vars_to_freeze === undefined) {
    throw new Error('nothing to change: give lr and/or vars_to_freeze');
  }
  if (edit.lr !== undefined && !(typeof edit.lr === 'number' && Number.isFinite(edit.lr) && edit.lr > 0)) {
    throw new Error(`lr must be a positive number (got ${JSON.stringify(edit.lr)})`);
  }
  const f = edit.vars_to_freeze;
  if (f !== undefined && f !== null && typeof f !== 'string' && !(Array.isArray(f) && f.every((p) => typeof p === 'string'))) {
    throw new Error('vars_to_freeze must be a regex, a list of regexes, [] or null');
  }
  const current = state(stage.name);
  if (current !== 'pending') {
    throw new Error(`stage "${stage.name}" is ${current}: only stages that have not started can change (their checkpoints record their settings)`);
  }
}

export function applyEdit(plan: Plan, edit: StageEdit): Plan {
  return {
    ...plan,
    stages: plan.stages.map((s) => {
      if (s.name !== edit.stage) return s;
      const frozen = edit.vars_to_freeze;
      return {
        ...s,
        settings: edit.lr === undefined ? s.settings : { ...s.settings, lr: edit.lr },
        vars_to_freeze: frozen === undefined ? s.vars_to_freeze : typeof frozen === 'string' ? [frozen] : frozen,
      };
    }),
  };
}
