/** The shared shape of `thaw status|wait|cancel <run | pipeline.yaml> [--json]`: resolve the run, connect, act, close. */
import { parseCommandArgs, UsageError } from '../cli/command';
import { openCluster, type ThawCluster } from './cluster';
import { runIdOf } from './runs';

export async function withRun(
  args: string[],
  act: (cluster: ThawCluster, workflowId: string, json: boolean) => Promise<number>,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
  if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
  const workflowId = await runIdOf(positionals[0]);
  const cluster = await openCluster();
  try {
    return await act(cluster, workflowId, values.json);
  } finally {
    await cluster.close();
  }
}
