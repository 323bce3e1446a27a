/**
 * `thaw run <pipeline.yaml>`: validate, then start (or attach to, or resume) the pipeline's run and follow it live.
 * Without TEMPORAL_ADDRESS the embedded dev server of the pipeline's model_dir (state folder: see client/cluster.ts)
 * and an in-process worker do the work; with it, the cluster's workers do (add --worker to also work in this
 * process). The Temporal SDK's own log lines go to the run's log file; the terminal shows thaw's lines only.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCluster, readSharedCluster, recordModelDir, runLogFile, stateDirFor, TOOK_OVER, type ThawCluster } from '../../client/cluster';
import { summaryTable } from '../../client/format';
import { workflowIdFor } from '../../client/ids';
import { LiveStatus } from '../../client/live';
import { failureMessage, queryStatus, resultOf, surviveServerLoss } from '../../client/runs';
import { startPipeline, type PipelineHandle } from '../../client/start';
import { loadPipeline } from '../../../lib/pipeline/load';
import type { Plan } from '../../../lib/pipeline/plan';
import { Storages } from '../../../lib/storage';
import { usesExternalCluster } from '../../server/connection';
import { installSdkLogs, sdkLogFile } from '../../server/sdk-logs';
import { startThawWorkers, type RunningWorkers } from '../../../worker';
import type { PipelineResult } from '../../../contract';
import { parseCommandArgs, parseNumberFlag, UsageError, type Command } from '../command';
import { BackgroundRunFailedError } from '../errors';

export const runCommand: Command = {
  name: 'run',
  usage: 'run <pipeline.yaml> [--detach] [--json] [--worker] [--restart] [--concurrency N] [--heartbeat-timeout SECONDS]',
  summary: 'run a pipeline durably (start, attach to or resume it) with live progress',
  flags: [
    ['--detach', 'start (or attach to) the run and return at once; on the embedded server a background thaw keeps it going'],
    ['--json', 'print the result as JSON instead of live progress and the summary table'],
    ['--worker', 'with TEMPORAL_ADDRESS: also train in this process (without it, this process always does)'],
    ['--restart', 'start a new run even when this pipeline completed before (its checkpoints gone, or to run it again); stages whose checkpoints are on disk are kept'],
    ['--concurrency N', 'trainings at once in this process (default 1; branches run side by side with 2 or more)'],
    ['--heartbeat-timeout SECONDS', 'a training that stops heartbeating this long is presumed dead and retried (default 30)'],
  ],
  details: 'Ctrl-C: running stages write a checkpoint at their current iteration, then thaw exits; `thaw run` again resumes. A second Ctrl-C exits at once (the last periodic checkpoint is kept). Exit 0 completed, 1 failed or refused, 2 usage, 130 interrupted.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      detach: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
      restart: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '1' },
      'heartbeat-timeout': { type: 'string' },
    });
    const concurrency = parseNumberFlag('--concurrency', values.concurrency, { min: 1, what: 'trainings at once in this process' });
    if (positionals.length !== 1) throw new UsageError('give exactly one pipeline YAML file');
    const heartbeat = values['heartbeat-timeout'] === undefined
      ? undefined
      : parseNumberFlag('--heartbeat-timeout', values['heartbeat-timeout'], { min: 1, integer: false, what: 'seconds' });
    const file = positionals[0];
    const plan = await loadPipeline(file);
    const workflowId = workflowIdFor(plan);
    const stateDir = stateDirFor(plan.model_dir, settings.state);
    recordModelDir(stateDir, plan.model_dir);
    const logFile = runLogFile(stateDir, workflowId);

    if (values.detach && !usesExternalCluster()) return detachLocally(file, plan, stateDir, logFile, args.filter((a) => a !== '--detach' && a !== file));

    installSdkLogs({ file: logFile });
    const out = values.json ? null : new LiveStatus();
    const say = (line: string) => (out ? out.print(line) : process.stderr.write(`${line}\n`));
    const cluster = await openCluster({ stateDir, ui: true, temporalCli: settings.temporalCli });
    let workers: RunningWorkers | null = null;
    try {
      // The owner of a shared server may end between our connecting and these steps: then we take it over.
      const tookOver = () => say(TOOK_OVER);
      if (cluster.kind !== 'external' || values.worker) {
        workers = await surviveServerLoss(cluster, async () => startThawWorkers({
          connection: await cluster.nativeConnection(),
          namespace: cluster.namespace,
          concurrency,
          activities: { settings, onTrainingLog: (line) => say(`  ${line}`) },
        }), { onTakeOver: tookOver });
      }
      const started = await surviveServerLoss(cluster, () => startPipeline(cluster.client, plan, {
        options: heartbeat === undefined ? undefined : { heartbeatTimeoutSeconds: heartbeat },
        restart: values.restart, storages: new Storages(settings.storage),
      }), { onTakeOver: tookOver });
      say(describeStart(plan, started, cluster));
      if (values.detach) {
        console.log(started.workflowId);
        return 0;
      }
      const outcome = await follow(cluster, started.handle, out, say);
      if (outcome.kind === 'interrupted') {
        say(cluster.kind === 'external' && !values.worker
          ? `Detached; the run continues on the cluster's workers. Reattach with: thaw run ${file}`
          : `Stopping: running stages write a checkpoint at their current iteration... (Ctrl-C again to quit at once)`);
        // A second Ctrl-C quits now; the exit hook and the server's supervisor stop the dev server.
        process.once('SIGINT', () => {
          process.stderr.write('Quitting at once: stages keep their last periodic checkpoint.\n');
          process.exit(130);
        });
        workers?.shutdown();
        await workers?.done;
        if (cluster.kind !== 'external' || values.worker) {
          say(`Detached. Nothing is lost: run \`thaw run ${file}\` again to resume from the checkpoints${cluster.kind === 'external' ? ' (or let other workers continue)' : ''}.`);
        }
        return 130;
      }
      if (outcome.kind === 'failed') {
        console.error(`thaw run: pipeline ${plan.name} did not complete: ${outcome.message}`);
        console.error(`Fix the cause, then run \`thaw run ${file}\` again: completed stages are kept and the rest resumes from its checkpoints.`);
        return 1;
      }
      if (values.json) console.log(JSON.stringify(outcome.result, null, 2));
      else printSummary(outcome.result);
      return 0;
    } finally {
      workers?.shutdown();
      await workers?.done.catch(() => undefined);
      await cluster.close();
    }
  },
};

function describeStart(plan: Plan, started: Awaited<ReturnType<typeof startPipeline>>, cluster: ThawCluster): string {
  const how = started.completedBefore
    ? 'already completed (showing its result; --restart runs it again)'
    : started.restarted
      ? 'started afresh (--restart): stages whose checkpoints are on disk are kept'
      : started.attached
      ? 'attached to the running run'
      : started.previousRun
        ? `started again after the previous run ${started.previousRun.toLowerCase()}; stages resume from their checkpoints`
        : 'started';
  const lines = [`thaw: pipeline ${plan.name} (${path.relative(process.cwd(), plan.source_file) || plan.source_file}): run ${started.workflowId} ${how}`];
  if (started.differentHash) lines.push(`  note: the running run was started from a different version of this file; it keeps its own plan`);
  lines.push(`  cluster: ${cluster.description}`);
  if (cluster.kind === 'shared-local') {
    lines.push('  note: this local server belongs to the thaw process that started it; should that one end first, this one takes the server over. For several pipelines at once, run `thaw server` and set TEMPORAL_ADDRESS');
  }
  if (cluster.uiUrl) lines.push(`  Web UI:  ${cluster.uiUrl}/namespaces/${cluster.namespace}/workflows/${started.workflowId}`);
  lines.push(`  model_dir: ${plan.model_dir}`);
  const log = sdkLogFile();
  if (log) lines.push(`  log:       ${log}`);
  return lines.join('\n');
}

type Outcome = { kind: 'completed'; result: PipelineResult } | { kind: 'failed'; message: string } | { kind: 'interrupted' };

/** Shows live status until the run ends or Ctrl-C / SIGTERM arrives. */
async function follow(cluster: ThawCluster, handle: PipelineHandle, out: LiveStatus | null, say: (line: string) => void): Promise<Outcome> {
  let settled: Outcome | null = null;
  // The result is a long poll: abort it when we stop following, or it outlives the connection.
  const stopPolling = new AbortController();
  const result = resultOf(cluster, handle, stopPolling.signal, () => say(TOOK_OVER)).then(
    (r): Outcome => ({ kind: 'completed', result: r }),
    (err): Outcome => ({ kind: 'failed', message: failureMessage(err) }),
  );
  void result.then((o) => {
    settled = o;
  });
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    while (!settled && !interrupted) {
      if (await cluster.takeOverIfOrphaned()) say(TOOK_OVER);
      if (out) {
        const status = await queryStatus(handle, 3000);
        if (status && !settled) out.show(status);
      }
      await Promise.race([result, sleep(1000)]);
    }
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    stopPolling.abort();
  }
  if (settled) {
    out?.release();
    return settled;
  }
  out?.release();
  return { kind: 'interrupted' };
}

function printSummary(result: PipelineResult): void {
  console.log(`\nPipeline ${result.name} completed.\n`);
  console.log(summaryTable(result));
  console.log(`\ncheckpoints: ${result.modelDir}`);
  if (result.lossCurve) console.log(`loss curve:  ${result.lossCurve}`);
}

/**
 * --detach on the embedded server: someone has to keep the server and the worker alive, so a background
 * `thaw run` (output in the run's log file, in the model_dir's state folder) does; we return once the run exists.
 */
async function detachLocally(file: string, plan: Plan, stateDir: string, logFile: string, passOn: string[]): Promise<number> {
  mkdirSync(stateDir, { recursive: true });
  const workflowId = workflowIdFor(plan);
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], 'run', file, ...passOn], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  child.unref();
  const cluster = await waitForSharedCluster(stateDir, child.pid!, logFile);
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      try {
        const d = await cluster.client.workflow.getHandle(workflowId).describe();
        if (d.status.name === 'RUNNING' || d.status.name === 'COMPLETED') break;
      } catch {
        // not started yet
      }
      if (Date.now() > deadline) throw backgroundFailed(`the background run did not start in 3 minutes`, logFile);
      try {
        process.kill(child.pid!, 0);
      } catch {
        throw backgroundFailed(`the background run (process ${child.pid}) exited before its run started`, logFile);
      }
      await sleep(500);
    }
  } finally {
    await cluster.close();
  }
  console.log(workflowId);
  console.error(`Running in the background (process ${child.pid}, log ${logFile}).`);
  console.error(`Follow it with \`thaw run ${file}\` or \`thaw status ${workflowId}\`; stop it with \`thaw cancel ${workflowId}\`.`);
  return 0;
}

/** The background process starts the embedded server and announces it in its record; connect once it has. */
async function waitForSharedCluster(stateDir: string, pid: number, logFile: string): Promise<ThawCluster> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      throw backgroundFailed(`the background run (process ${pid}) exited early`, logFile);
    }
    const cluster = await readSharedCluster(stateDir);
    if (cluster) return cluster;
    if (Date.now() > deadline) throw backgroundFailed(`the background run's server did not come up in 3 minutes`, logFile);
    await sleep(500);
  }
}

/** The background run went wrong: its last line says why, the log says more. */
function backgroundFailed(what: string, logFile: string): BackgroundRunFailedError {
  let last = '';
  try {
    last = readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('thaw')).pop() ?? '';
  } catch {
    // no log
  }
  return new BackgroundRunFailedError(`${what}${last ? `: ${last}` : ''}`, { file: logFile, fix: `see ${logFile}, fix the cause and run again` });
}
