/** `thaw status <run> [--json]`: where a pipeline run is: stage states, iteration, loss, ETA, or its result. */
import { statusLines, summaryTable } from '../../client/format';
import { withRun } from '../../client/run-arg';
import { viewRun } from '../../client/runs';
import { describeUnpolled } from '../../client/workers';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const statusCommand: Command = {
  name: 'status',
  usage: 'status <run-id | pipeline.yaml> [--json]',
  summary: 'show the state of a pipeline run (stages, iteration, loss, ETA, result)',
  flags: [['--json', 'print the run (execution, stages, result or failure) as JSON']],
  details: 'A run id (as `thaw list` shows it) or the pipeline YAML it was started from, found from any folder (the embedded server of its model_dir, or the cluster of TEMPORAL_ADDRESS). Exit 0 running or completed, 1 failed, cancelled, terminated or not found, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
    if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
    return withRun(positionals[0], settings, async ({ cluster, workflowId, where }) => {
      const view = await viewRun(cluster.client, workflowId, where);
      if (values.json) {
        console.log(JSON.stringify(view, null, 2));
        return 0;
      }
      console.log(`run ${workflowId}: ${view.execution.toLowerCase()} (started ${view.startTime.toISOString()}${view.closeTime ? `, ended ${view.closeTime.toISOString()}` : ''})`);
      if (view.memo.source_file) console.log(`pipeline: ${view.memo.source_file}`);
      if (view.status) console.log(statusLines(view.status).join('\n'));
      if (view.unpolled && view.unpolled.length > 0) {
        console.log(`${describeUnpolled(view.unpolled)} on ${where}: the run makes no progress until one does; start \`thaw run ${view.memo.source_file || '<pipeline.yaml>'}\` (embedded server) or \`thaw worker\` (cluster)`);
      } else if (view.execution === 'RUNNING' && !view.status) {
        console.log('(no worker answered the status query in time; it may be busy: try again)');
      }
      if (view.result) {
        console.log(summaryTable(view.result));
        if (view.result.lossCurve) console.log(`loss curve: ${view.result.lossCurve}`);
      }
      if (view.failure) console.log(`failure: ${view.failure}`);
      return view.execution === 'RUNNING' || view.execution === 'COMPLETED' ? 0 : 1;
    });
  },
};
