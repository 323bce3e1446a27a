/**
 * preflight (cpu task queue): the selection module's checks of a whole plan, before any training starts. The
 * per-variable listing is left out of what goes back to the workflow (it can be large and only `thaw check` shows it).
 */
import type { Plan } from '../lib/pipeline/plan';
import { preflight as checkPlan, type PreflightReport, type StageReport } from '../lib/selection';
import { translatingUserErrors } from './failures';

export interface PlanCheck extends Omit<PreflightReport, 'stages'> {
  stages: Array<Omit<StageReport, 'variables'>>;
}

export async function preflight(plan: Plan): Promise<PlanCheck> {
  const report = await translatingUserErrors(() => checkPlan(plan));
  return { ...report, stages: report.stages.map(({ variables: _variables, ...stage }) => stage) };
}
