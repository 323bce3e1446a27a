/**
 * `thaw run <pipeline.yaml>`: validate, then start (or attach to, or resume) the pipeline's run and follow it live.
 * Without TEMPORAL_ADDRESS the embedded dev server (SQLite under .thaw/) and an in-process worker do the work;
 * with it, the cluster's workers do (add --worker to also work in this process).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultStateDir, openCluster, readSharedCluster, type ThawCluster } from '../../client/cluster';
import { summaryTable } from '../../client/format';
import { workflowIdFor } from '../../client/ids';
import { LiveStatus } from '../../client/live';
import { failureMessage, queryStatus } from '../../client/runs';
import { startPipeline, type PipelineHandle } from '../../client/start';
import { loadPipeline } from '../../pipeline/load';
import type { Plan } from '../../pipeline/plan';
import { usesExternalCluster } from '../../server/connection';
import { installTemporalLogLevel, startThawWorkers, type RunningWorkers } from '../../../worker';
import type { PipelineResult } from '../../../workflows/types';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const runCommand: Command = {
  name: 'run',
  usage: 'run <pipeline.yaml> [--detach] [--json] [--worker] [--concurrency N] [--heartbeat-timeout SECONDS]',
  summary: 'run a pipeline durably (start, attach to or resume it) with live progress',
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      detach: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '1' },
      'heartbeat-timeout': { type: 'string' },
    });
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency (trainings at once in this process) must be an integer >= 1');
    if (positionals.length !== 1) throw new UsageError('give exactly one pipeline YAML file');
    const heartbeat = values['heartbeat-timeout'] === undefined ? undefined : Number(values['heartbeat-timeout']);
    if (heartbeat !== undefined && !(heartbeat >= 1)) throw new UsageError('--heartbeat-timeout must be a number of seconds >= 1');
    const plan = await loadPipeline(positionals[0]);

    if (values.detach && !usesExternalCluster()) return detachLocally(positionals[0], plan);

    installTemporalLogLevel('WARN');
    const out = values.json ? null : new LiveStatus();
    const say = (line: string) => (out ? out.print(line) : process.stderr.write(`${line}\n`));
    const cluster = await openCluster({ ui: true });
    let workers: RunningWorkers | null = null;
    try {
      if (cluster.kind !== 'external' || values.worker) {
        workers = await startThawWorkers({
          connection: await cluster.nativeConnection(),
          namespace: cluster.namespace,
          concurrency,
          activities: { onTrainingLog: (line) => say(`  ${line}`) },
        });
      }
      const started = await startPipeline(cluster.client, plan, {
        options: heartbeat === undefined ? undefined : { heartbeatTimeoutSeconds: heartbeat },
      });
      say(describeStart(plan, started, cluster));
      if (values.detach) {
        console.log(started.workflowId);
        return 0;
      }
      const outcome = await follow(cluster, started.handle, out);
      if (outcome.kind === 'interrupted') {
        say(cluster.kind === 'external' && !values.worker
          ? `Detached; the run continues on the cluster's workers. Reattach with: thaw run ${positionals[0]}`
          : `Stopping: running stages write a checkpoint at their current iteration...`);
        workers?.shutdown();
        await workers?.done;
        if (cluster.kind !== 'external' || values.worker) {
          say(`Detached. Nothing is lost: run \`thaw run ${positionals[0]}\` again to resume from the checkpoints${cluster.kind === 'external' ? ' (or let other workers continue)' : ''}.`);
        }
        return 130;
      }
      if (outcome.kind === 'failed') {
        console.error(`thaw run: pipeline ${plan.name} did not complete: ${outcome.message}`);
        console.error(`Fix the cause, then run \`thaw run ${positionals[0]}\` again: completed stages are kept and the rest resumes from its checkpoints.`);
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
    ? 'already completed (showing its result)'
    : started.attached
      ? 'attached to the running run'
      : started.previousRun
        ? `started again after the previous run ${started.previousRun.toLowerCase()}; stages resume from their checkpoints`
        : 'started';
  const lines = [`thaw: pipeline ${plan.name} (${path.relative(process.cwd(), plan.source_file) || plan.source_file}): run ${started.workflowId} ${how}`];
  if (started.differentHash) lines.push(`  note: the running run was started from a different version of this file; it keeps its own plan`);
  lines.push(`  cluster: ${cluster.description}`);
  if (cluster.kind === 'shared-local') {
    lines.push('  note: this local server stops when the thaw process that started it ends; for several pipelines at once, run `thaw server` and set TEMPORAL_ADDRESS');
  }
  if (cluster.uiUrl) lines.push(`  Web UI:  ${cluster.uiUrl}/namespaces/${cluster.namespace}/workflows/${started.workflowId}`);
  lines.push(`  model_dir: ${plan.model_dir}`);
  return lines.join('\n');
}

type Outcome = { kind: 'completed'; result: PipelineResult } | { kind: 'failed'; message: string } | { kind: 'interrupted' };

/** Shows live status until the run ends or Ctrl-C / SIGTERM arrives. */
async function follow(cluster: ThawCluster, handle: PipelineHandle, out: LiveStatus | null): Promise<Outcome> {
  let settled: Outcome | null = null;
  // The result is a long poll: abort it when we stop following, or it outlives the connection.
  const stopPolling = new AbortController();
  const result = cluster.connection.withAbortSignal(stopPolling.signal, () => handle.result()).then(
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
 * `thaw run` (output in .thaw/<run>.log) does; we return once the run exists.
 */
async function detachLocally(file: string, plan: Plan): Promise<number> {
  const stateDir = defaultStateDir();
  mkdirSync(stateDir, { recursive: true });
  const workflowId = workflowIdFor(plan);
  const logFile = path.join(stateDir, `${workflowId}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], 'run', file], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  child.unref();
  const cluster = await waitForSharedCluster(stateDir, child.pid!);
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      try {
        const d = await cluster.client.workflow.getHandle(workflowId).describe();
        if (d.status.name === 'RUNNING' || d.status.name === 'COMPLETED') break;
      } catch {
        // not started yet
      }
      if (Date.now() > deadline) throw new Error(`the background run did not start; see ${logFile}`);
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

/** The background process starts the embedded server and records it in server.json; connect once it has. */
async function waitForSharedCluster(stateDir: string, pid: number): Promise<ThawCluster> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`the background run (process ${pid}) exited early; see its log in ${stateDir}`);
    }
    const cluster = await readSharedCluster(stateDir);
    if (cluster) return cluster;
    if (Date.now() > deadline) throw new Error(`the background run's server did not come up; see its log in ${stateDir}`);
    await sleep(500);
  }
}
