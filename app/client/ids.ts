/** Run identity: the workflow id is derived from the pipeline name and its model_dir, so running again attaches. */
import { createHash } from 'node:crypto';
import type { Plan } from '../../lib/pipeline/plan';

export const WORKFLOW_TYPE = 'runPipeline';

/** 10 hex digits of the model_dir's SHA-256: in the workflow id, and the name of the model_dir's state folder. */
export function modelDirHash(modelDir: string): string {
  return createHash('sha256').update(modelDir).digest('hex').slice(0, 10);
}

export function workflowIdFor(plan: Pick<Plan, 'name' | 'model_dir'>): string {
  return `thaw-${plan.name}-${modelDirHash(plan.model_dir)}`;
}

/** The model_dir hash in a run id made by workflowIdFor, or null for other ids. */
export function modelDirHashOfRun(workflowId: string): string | null {
  return /^thaw-.+-([0-9a-f]{10})$/.exec(workflowId)?.[1] ?? null;
}
