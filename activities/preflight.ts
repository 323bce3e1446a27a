/**
 * preflight (cpu task queue): the selection module's checks of a whole plan, before any training starts. The
 * per-variable listing is left out of what goes back to the workflow (it can be large and only `thaw check` shows it).
 */
import type { PlanCheck } from '../contract';
import type { Plan } from '../lib/pipeline/plan';
import { storagesOf, type StoragesOption } from '../lib/storage';
import { checkPlan } from '../lib/selection';
import { translatingUserErrors } from './failures';

/** `storages`: the worker's, opened from its settings. */
export function makePreflight(options: StoragesOption = {}) {
  const storages = storagesOf(options);
  return async function preflight(plan: Plan): Promise<PlanCheck> {
    // An s3:// model_dir with bad credentials or a missing bucket fails here (StorageError), before any training.
    await translatingUserErrors(() => storages.check(plan.model_dir));
    const report = await translatingUserErrors(() => checkPlan(plan, { storages }));
    return { ...report, stages: report.stages.map(({ variables: _variables, ...stage }) => stage) };
  };
}
