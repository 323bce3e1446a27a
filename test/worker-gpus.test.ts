/**
 * GPU pinning (`thaw worker --gpus N`, `thawPlugin({ devices })`): each training child is pinned to its own device.
 * The GPU is mocked — this machine has none — so the test reads back the CUDA_VISIBLE_DEVICES each real training
 * child process was started with.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import test from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeTrainStage, type TrainStageResult } from '../activities/train-stage';
import { DevicePool, deviceIds } from '../lib/training/devices';
import { killGroup, spawnWorker } from './e2e-harness';
import { setEnv } from './helpers/env';
import { startTestServer } from './helpers/temporal';
import { stageRequest, tempDir } from './helpers/training';

/** The environment a process was started with (Linux /proc). */
function startEnv(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

test('device ids for --gpus N: the first N the worker may see, else 0..N-1', () => {
  assert.deepEqual(deviceIds(2, { CUDA_VISIBLE_DEVICES: '3,5,6' }), ['3', '5']);
  assert.deepEqual(deviceIds(3, {}), ['0', '1', '2']);
  assert.deepEqual(deviceIds(2, { CUDA_VISIBLE_DEVICES: '' }), ['0', '1']);
});

/** The training child processes of this process (Linux /proc): their pids. */
function trainingChildren(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('stage-child');
    } catch {
      return false;
    }
  });
}

test('the device pool leases each GPU to one training at a time, lowest free first', () => {
  const pool = new DevicePool(deviceIds(2, { CUDA_VISIBLE_DEVICES: '3,5' }));
  const a = pool.lease();
  const b = pool.lease();
  assert.deepEqual([a.env, b.env], [{ CUDA_VISIBLE_DEVICES: '3' }, { CUDA_VISIBLE_DEVICES: '5' }]);
  assert.throws(() => pool.lease(), /every GPU \(3, 5\) is busy/);
  a.release();
  a.release(); // twice is harmless
  assert.deepEqual(pool.lease().env, { CUDA_VISIBLE_DEVICES: '3' });
  assert.deepEqual(new DevicePool(null).lease().env, {}, 'without devices a child inherits the environment unchanged');
});

test('trainStage with devices [3, 5] pins each of two trainings at once to its own GPU (GPU mocked: child env read back)', async (t) => {
  const dirs = [tempDir('gpu-a'), tempDir('gpu-b'), tempDir('gpu-c')];
  t.after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const trainStage = makeTrainStage({ devices: ['3', '5'], onTrainingLog: () => {} });
  // No workflow to signal: the activity only trains and heartbeats.
  const envs = dirs.map(() => new MockActivityEnvironment({ workflowExecution: { workflowId: '', runId: '' }, heartbeatTimeoutMs: 60_000 }));
  const long = dirs.slice(0, 2).map((modelDir, i) =>
    envs[i].run(trainStage, stageRequest({ modelDir, end: 100_000, settings: { save_every_n: 100_000 } })).catch((e: Error) => e));
  let children: number[] = [];
  for (let tries = 0; tries < 600 && children.length < 2; tries++) {
    await new Promise((r) => setTimeout(r, 100));
    children = trainingChildren();
  }
  const seen = children.map((pid) => startEnv(pid).get('CUDA_VISIBLE_DEVICES') ?? '(unset)');
  assert.deepEqual(seen.sort(), ['3', '5'], 'two trainings at once get the two devices, one each');
  for (const env of envs.slice(0, 2)) env.cancel();
  const outcomes = await Promise.all(long);
  assert.ok(outcomes.every((o) => o instanceof CancelledFailure), `cancelled trainings checkpoint and end as cancelled: ${outcomes}`);

  // Both devices are free again: the next training gets the lowest.
  let third = '';
  const watcher = setInterval(() => {
    const [pid] = trainingChildren();
    if (pid && !third) third = startEnv(pid).get('CUDA_VISIBLE_DEVICES') ?? '(unset)';
  }, 20);
  const done = (await envs[2].run(trainStage, stageRequest({ modelDir: dirs[2], end: 3 }))) as TrainStageResult;
  clearInterval(watcher);
  assert.equal(third, '3');
  assert.equal(done.reachedIteration, 3);
});

test('thaw worker --gpus 2 says which cluster, namespace and GPUs it serves (GPU mocked: CUDA_VISIBLE_DEVICES=4,7)', async (t) => {
  const server = await startTestServer(t);
  setEnv(t, { CUDA_VISIBLE_DEVICES: '4,7' }); // what the worker process is given; it pins its children within it
  const worker = await spawnWorker(server, ['--queues', 'gpu', '--gpus', '2']);
  t.after(() => killGroup(worker, 'SIGTERM'));
  assert.match(worker.output(), new RegExp(`on ${server.address.replace(/\./g, '\\.')} \\(namespace ${server.namespace}\\).*2 training\\(s\\) at a time on GPUs 4, 7`));
});
