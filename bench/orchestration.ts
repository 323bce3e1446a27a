/**
 * Orchestration benchmark (run: `node --import tsx bench/orchestration.ts`), on the embedded dev server with real
 * workers and real (tiny) training:
 *  1. per-stage overhead of a 5-stage pipeline: stage wall time (as the workflow saw it) minus training time (as the
 *     engine measured it), split into Temporal's part (workflow ↔ activity scheduling, from the history's timestamps)
 *     and the stage runner's part (child process start, engine load, restore, final save);
 *  2. time from SIGKILL of the worker process group running a stage to the first iteration trained by another worker,
 *     for several heartbeat timeouts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPipeline } from '../app/client/start';
import { loadPipeline } from '../lib/pipeline/load';
import { startDevServer } from '../app/server/dev-server';
import { connectClient, inProcessWorkers, killGroup, spawnWorker, tempDir, waitForStatus, writePipeline } from '../test/e2e-harness';

function ms(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(ts?.seconds ?? 0) * 1000 + (ts?.nanos ?? 0) / 1e6;
}

async function main(): Promise<void> {
  const dir = tempDir('bench-orch');
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite') });
  const { client, close } = await connectClient(server);
  try {
    // 1. Overhead per stage.
    const workers = await inProcessWorkers(server, { activities: { onTrainingLog: () => undefined } });
    const stages = ['s1', 's2', 's3', 's4', 's5'].map((n) => `  - {name: ${n}, iterations: 5}`).join('\n');
    const plan = await loadPipeline(writePipeline(dir, 'overhead', `${stages}\n`));
    const { handle } = await startPipeline(client, plan);
    const result = await handle.result();
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const activities = new Map<number, { scheduled: number; started?: number; closed?: number; type: string }>();
    for (const e of events) {
      const id = Number(e.eventId);
      if (e.activityTaskScheduledEventAttributes) activities.set(id, { scheduled: ms(e.eventTime), type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '' });
      const started = e.activityTaskStartedEventAttributes;
      if (started) activities.get(Number(started.scheduledEventId))!.started = ms(e.eventTime);
      const done = e.activityTaskCompletedEventAttributes;
      if (done) activities.get(Number(done.scheduledEventId))!.closed = ms(e.eventTime);
    }
    const trainings = [...activities.values()].filter((a) => a.type === 'trainStage');
    console.log('\n1. Orchestration overhead per stage (5 stages × 5 iterations, toynet 16×16, embedded server)');
    console.log('stage  wall s  train s  overhead s  temporal s  runner s');
    result.stages.forEach((s, i) => {
      const a = trainings[i];
      const activitySeconds = (a.closed! - a.started!) / 1000;
      const temporal = s.wallSeconds - activitySeconds;
      console.log(
        `${s.stage.padEnd(5)}  ${s.wallSeconds.toFixed(2).padStart(6)}  ${s.trainSeconds.toFixed(2).padStart(7)}  ${(s.wallSeconds - s.trainSeconds).toFixed(2).padStart(10)}  ${temporal.toFixed(2).padStart(10)}  ${(activitySeconds - s.trainSeconds).toFixed(2).padStart(8)}`,
      );
    });
    await workers.close();

    // 2. SIGKILL → resumed on another worker, as a function of the heartbeat timeout.
    const cpu = await inProcessWorkers(server, { queues: ['cpu'] });
    console.log('\n2. SIGKILL of the training worker → first iteration trained by a standby worker');
    console.log('heartbeat timeout s  resumed after s  (minus timeout) s');
    for (const heartbeat of [2, 5, 10]) {
      const p = await loadPipeline(writePipeline(dir, `kill${heartbeat}`, `  - {name: long, iterations: 2000, save_every_n: 10}\n`));
      const first = await spawnWorker(server);
      const { handle: h } = await startPipeline(client, p, { options: { heartbeatTimeoutSeconds: heartbeat } });
      await waitForStatus(h, (s) => (s.stages[0].iteration ?? 0) >= 15);
      const standby = await spawnWorker(server);
      const killedAt = Date.now() / 1000;
      await killGroup(first, 'SIGKILL');
      const log = path.join(p.model_dir, 'logs', 'long.jsonl');
      let resumedAt: number | null = null;
      while (resumedAt === null) {
        await sleep(100);
        const times = readFileSync(log, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { time: number }).time);
        resumedAt = times.find((t) => t > killedAt) ?? null;
      }
      const after = resumedAt - killedAt;
      console.log(`${String(heartbeat).padStart(19)}  ${after.toFixed(2).padStart(15)}  ${(after - heartbeat).toFixed(2).padStart(17)}`);
      await h.cancel();
      await h.result().catch(() => undefined);
      await killGroup(standby, 'SIGTERM');
    }
    await cpu.close();
  } finally {
    await close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
