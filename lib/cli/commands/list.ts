/** `thaw list [--json]`: pipeline runs known to the cluster, newest first. */
import { openCluster } from '../../client/cluster';
import { formatTable } from '../../util/text-table';
import { listRuns } from '../../client/runs';
import { parseCommandArgs, type Command } from '../command';

export const listCommand: Command = {
  name: 'list',
  usage: 'list [--json] [--limit N]',
  summary: 'list pipeline runs',
  async run(args) {
    const { values } = parseCommandArgs(args, { json: { type: 'boolean', default: false }, limit: { type: 'string', default: '50' } });
    const cluster = await openCluster();
    try {
      const runs = await listRuns(cluster.client, Number(values.limit) || 50);
      if (values.json) {
        console.log(JSON.stringify(runs, null, 2));
      } else if (runs.length === 0) {
        console.log('no pipeline runs');
      } else {
        console.log(formatTable(['run', 'status', 'started', 'pipeline file'], runs.map((r) => [r.workflowId, r.status.toLowerCase(), r.startTime.toISOString(), r.sourceFile])));
      }
      return 0;
    } finally {
      await cluster.close();
    }
  },
};
