/**
 * `thaw list [--json] [--limit N]`: pipeline runs, newest first. On a Temporal cluster (TEMPORAL_ADDRESS): the
 * cluster's. Otherwise the runs of every model_dir's embedded server (each state folder with a database; a server
 * that no `thaw run` is running is started briefly to read it). Creates nothing.
 */
import { knownStateDirs, openCluster, stateHome, type ThawCluster } from '../../client/cluster';
import { listRuns, type RunListing } from '../../client/runs';
import { usesExternalCluster } from '../../server/connection';
import { formatTable } from '../../util/text-table';
import { parseCommandArgs, parseNumberFlag, type Command } from '../command';

export const listCommand: Command = {
  name: 'list',
  usage: 'list [--json] [--limit N]',
  summary: 'list pipeline runs (a Temporal cluster\'s, or those of every local model_dir)',
  flags: [
    ['--json', 'print the runs as JSON'],
    ['--limit N', 'show at most N runs, newest first (default 50)'],
  ],
  async run(args) {
    const { values } = parseCommandArgs(args, { json: { type: 'boolean', default: false }, limit: { type: 'string', default: '50' } });
    const limit = parseNumberFlag('--limit', values.limit, { min: 1, what: 'runs' });
    const runs: RunListing[] = [];
    if (usesExternalCluster()) {
      runs.push(...(await listOn(await openCluster(), limit)));
    } else {
      for (const stateDir of knownStateDirs()) runs.push(...(await listOn(await openCluster({ stateDir, purpose: 'inspect' }), limit)));
    }
    runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
    const shown = runs.slice(0, limit);
    if (values.json) {
      console.log(JSON.stringify(shown, null, 2));
    } else if (shown.length === 0) {
      console.log(usesExternalCluster() ? 'no pipeline runs' : `no pipeline runs (no embedded server has run under ${process.env.THAW_STATE_DIR ?? stateHome()}; for a Temporal cluster set TEMPORAL_ADDRESS)`);
    } else {
      console.log(formatTable(['run', 'status', 'started', 'pipeline file'], shown.map((r) => [r.workflowId, r.status.toLowerCase(), r.startTime.toISOString(), r.sourceFile])));
    }
    return 0;
  },
};

async function listOn(cluster: ThawCluster, limit: number): Promise<RunListing[]> {
  try {
    return await listRuns(cluster.client, limit);
  } finally {
    await cluster.close();
  }
}
