/**
 * `thaw list [--json] [--limit N]`: pipeline runs, newest first. On a Temporal cluster (TEMPORAL_ADDRESS): the
 * cluster's. Otherwise the runs of every model_dir's embedded server (each state folder with a database; a server
 * that no `thaw run` is running is started briefly to read it, a few at once). Creates nothing.
 */
import { knownStateDirs, modelDirOfStateDir, openCluster, type ThawCluster } from '../../client/cluster';
import { listRuns, type RunListing } from '../../client/runs';
import { usesExternalCluster } from '../../server/connection';
import { formatTable } from '../../../lib/util/text-table';
import { parseCommandArgs, parseNumberFlag, type Command } from '../command';

export const listCommand: Command = {
  name: 'list',
  usage: 'list [--json] [--limit N]',
  summary: 'list pipeline runs (a Temporal cluster\'s, or those of every local model_dir)',
  flags: [
    ['--json', 'print the runs as JSON'],
    ['--limit N', 'show at most N runs, newest first (default 50)'],
  ],
  async run(args, settings) {
    const { values } = parseCommandArgs(args, { json: { type: 'boolean', default: false }, limit: { type: 'string', default: '50' } });
    const limit = parseNumberFlag('--limit', values.limit, { min: 1, what: 'runs' });
    const runs: RunListing[] = [];
    if (usesExternalCluster()) {
      runs.push(...(await listOn(await openCluster(), limit)));
    } else {
      runs.push(...(await listLocal(knownStateDirs(settings.state), limit)));
    }
    runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
    const shown = runs.slice(0, limit);
    if (values.json) {
      console.log(JSON.stringify(shown, null, 2));
    } else if (shown.length === 0) {
      console.log(usesExternalCluster() ? 'no pipeline runs' : `no pipeline runs (no embedded server has run under ${settings.state.stateDir ?? settings.state.stateHome}; for a Temporal cluster set TEMPORAL_ADDRESS)`);
    } else {
      console.log(formatTable(['run', 'status', 'started', 'pipeline file'], shown.map((r) => [r.workflowId, r.status.toLowerCase(), r.startTime.toISOString(), r.sourceFile])));
    }
    return 0;
  },
};

/** Servers started at once to read state folders (each takes a few seconds to start). */
const PARALLEL_SERVERS = 4;

/**
 * The runs of every local state folder, a few folders at a time. A folder whose server cannot be read is named in
 * one line on stderr and left out, so one broken folder does not hide the others' runs.
 */
async function listLocal(stateDirs: string[], limit: number): Promise<RunListing[]> {
  const runs: RunListing[] = [];
  const queue = [...stateDirs];
  const reader = async () => {
    for (let stateDir = queue.shift(); stateDir !== undefined; stateDir = queue.shift()) {
      try {
        runs.push(...(await listOn(await openCluster({ stateDir, purpose: 'inspect' }), limit)));
      } catch (err) {
        const what = modelDirOfStateDir(stateDir) ?? 'model_dir unknown';
        console.error(`thaw list: left out ${stateDir} (${what}): ${(err as Error)?.message ?? String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_SERVERS, stateDirs.length) }, reader));
  return runs;
}

async function listOn(cluster: ThawCluster, limit: number): Promise<RunListing[]> {
  try {
    return await listRuns(cluster.client, limit);
  } finally {
    await cluster.close();
  }
}
