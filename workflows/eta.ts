/** Time-to-finish estimates from the latest progress reports. Pure (runs inside the workflow's status query). */
import { childrenOf, roots } from '../lib/pipeline/dag';
import type { StagePlan } from '../lib/pipeline/plan';

export interface StageProgressView {
  done: boolean;
  /** Iterations still to train in this stage. */
  remaining: number;
}

/**
 * Remaining iterations on the longest remaining path of the DAG (branches run in parallel, so the slowest one
 * decides), divided by the training speed; null when no speed has been measured yet.
 */
export function pipelineEtaSeconds(stages: readonly StagePlan[], view: (stage: string) => StageProgressView, itPerSec: number | null): number | null {
  if (!itPerSec || itPerSec <= 0) return null;
  const longest = (name: string): number => {
    const own = view(name);
    const below = Math.max(0, ...childrenOf(stages, name).map((c) => longest(c.name)));
    return (own.done ? 0 : own.remaining) + below;
  };
  const total = Math.max(0, ...roots(stages).map((r) => longest(r.name)));
  return total / itPerSec;
}

export function stageEtaSeconds(remaining: number, itPerSec: number | null): number | null {
  return itPerSec && itPerSec > 0 ? remaining / itPerSec : null;
}
