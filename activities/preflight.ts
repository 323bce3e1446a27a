/**
 * preflight (cpu task queue): the selection module's checks of a whole plan, before any training starts. The
 * per-variable listing is left out of what goes back to the workflow (it can be large and only `thaw check` shows it).
 */
import type { PlanCheck } from '../contract';
import type { Plan } from '../lib/pipeline/plan';
import { checkStorage } from '../lib/storage';
import { checkPlan } from '../lib/selection';
import { translatingUserErrors } from './failures';

export async function preflight(plan: Plan): Promise<PlanCheck> {
  // An s3:// model_dir with bad credentials or a missing bucket fails here (StorageError), before any training.
  await translatingUserErrors(() => checkStorage(plan.model_dir));
  const report = await translatingUserErrors(() => checkPlan(plan));
  return { ...report, stages: report.stages.map(({ variables: _variables, ...stage }) => stage) };
}
