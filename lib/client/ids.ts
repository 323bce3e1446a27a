/** Run identity: the workflow id is derived from the pipeline name and its model_dir, so running again attaches. */
import { createHash } from 'node:crypto';
import type { Plan } from '../pipeline/plan';

export const WORKFLOW_TYPE = 'runPipeline';

export function workflowIdFor(plan: Pick<Plan, 'name' | 'model_dir'>): string {
  const dir = createHash('sha256').update(plan.model_dir).digest('hex').slice(0, 10);
  return `thaw-${plan.name}-${dir}`;
}
