/**
 * The shared shape of `thaw status|wait|cancel <run | pipeline.yaml>`: resolve the run, find its cluster (for the
 * embedded server: from the pipeline's model_dir, or from the model_dir hash the run id ends in, so it works from
 * any folder), connect, act, close. Nothing is created where it runs.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../cli/command';
import { loadPipeline } from '../../lib/pipeline/load';
import { usesExternalCluster } from '../server/connection';
import type { StateSettings, ThawSettings } from '../../lib/settings';
import { NoEmbeddedServerError, openCluster, stateDirFor, stateDirForHash, type ThawCluster } from './cluster';
import { modelDirHashOfRun, workflowIdFor } from './ids';

export interface RunTarget {
  workflowId: string;
  /** The embedded server's state folder (none with an external cluster). */
  stateDir?: string;
  /** The pipeline file, when the run was named by one. */
  file?: string;
}

export function looksLikePipelineFile(ref: string): boolean {
  return /\.ya?ml$/i.test(ref) || existsSync(ref);
}

/** `state`: where embedded servers keep their state (settings.state). */
export async function resolveRun(ref: string, state: StateSettings): Promise<RunTarget> {
  const external = usesExternalCluster();
  if (looksLikePipelineFile(ref)) {
    const plan = await loadPipeline(ref);
    return { workflowId: workflowIdFor(plan), stateDir: external ? undefined : stateDirFor(plan.model_dir, state), file: ref };
  }
  if (external) return { workflowId: ref };
  const hash = modelDirHashOfRun(ref);
  if (!hash && !state.stateDir) {
    throw new UsageError(`"${ref}" is neither a pipeline file nor a thaw run id (thaw-<name>-<10 hex digits>, as \`thaw run\` and \`thaw list\` print it)`);
  }
  return { workflowId: ref, stateDir: stateDirForHash(hash ?? '', state) };
}

export interface RunContext {
  cluster: ThawCluster;
  target: RunTarget;
  workflowId: string;
  /** Where the run was looked for, for messages: the cluster's description. */
  where: string;
}

export async function withRun(ref: string, settings: Pick<ThawSettings, 'state' | 'temporalCli'>, act: (ctx: RunContext) => Promise<number>): Promise<number> {
  const target = await resolveRun(ref, settings.state);
  let cluster: ThawCluster;
  try {
    cluster = await openCluster({ stateDir: target.stateDir, purpose: 'inspect', temporalCli: settings.temporalCli });
  } catch (err) {
    if (err instanceof NoEmbeddedServerError) throw new NoEmbeddedServerError(`no run ${target.workflowId}`, target.stateDir!);
    throw err;
  }
  try {
    return await act({ cluster, target, workflowId: target.workflowId, where: cluster.description });
  } finally {
    await cluster.close();
  }
}
