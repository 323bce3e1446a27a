/** `thaw status <run> [--json]`: where a pipeline run is: stage states, iteration, loss, ETA, or its result. */
import { statusLines, summaryTable } from '../../client/format';
import { withRun } from '../../client/run-arg';
import { viewRun } from '../../client/runs';
import type { Command } from '../command';

export const statusCommand: Command = {
  name: 'status',
  usage: 'status <run-id | pipeline.yaml> [--json]',
  summary: 'show the state of a pipeline run (stages, iteration, loss, ETA, result)',
  run: (args) =>
    withRun(args, async (cluster, workflowId, json) => {
      const view = await viewRun(cluster.client, workflowId);
      if (json) {
        console.log(JSON.stringify(view, null, 2));
        return 0;
      }
      console.log(`run ${workflowId}: ${view.execution.toLowerCase()} (started ${view.startTime.toISOString()}${view.closeTime ? `, ended ${view.closeTime.toISOString()}` : ''})`);
      if (view.memo.source_file) console.log(`pipeline: ${view.memo.source_file}`);
      if (view.status) console.log(statusLines(view.status).join('\n'));
      else if (view.execution === 'RUNNING') console.log('(no worker answered: start `thaw worker`, or `thaw run <pipeline.yaml>`, to make progress)');
      if (view.result) {
        console.log(summaryTable(view.result));
        if (view.result.lossCurve) console.log(`loss curve: ${view.result.lossCurve}`);
      }
      if (view.failure) console.log(`failure: ${view.failure}`);
      return view.execution === 'RUNNING' || view.execution === 'COMPLETED' ? 0 : 1;
    }),
};
