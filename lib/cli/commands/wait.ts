/** `thaw wait <run>`: block until the run ends; exit 0 when it completed, 1 otherwise. */
import { summaryTable } from '../../client/format';
import { withRun } from '../../client/run-arg';
import { failureMessage, handleOf } from '../../client/runs';
import type { Command } from '../command';

export const waitCommand: Command = {
  name: 'wait',
  usage: 'wait <run-id | pipeline.yaml> [--json]',
  summary: 'wait for a pipeline run to end (exit 0 when it completed)',
  run: (args) =>
    withRun(args, async (cluster, workflowId, json) => {
      try {
        const result = await handleOf(cluster.client, workflowId).result();
        console.log(json ? JSON.stringify(result, null, 2) : summaryTable(result));
        return 0;
      } catch (err) {
        console.error(`thaw wait: run ${workflowId} did not complete: ${failureMessage(err)}`);
        return 1;
      }
    }),
};
