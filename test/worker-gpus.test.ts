/**
 * `thaw worker --gpus N`: each training child is pinned to its own device. The GPU is mocked — this machine has
 * none — so the test reads back the CUDA_VISIBLE_DEVICES each real training child process was started with.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import test from 'node:test';
import { runStage } from '../lib/training';
import { deviceIds, leaseDevice, useDevices } from '../lib/training/devices';
import { killGroup, spawnWorker } from './e2e-harness';
import { setEnv } from './helpers/env';
import { startTestServer } from './helpers/temporal';
import { quiet, stageRequest, tempDir } from './helpers/training';

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

test('--gpus 2 pins each training child to its own device (GPU mocked: the child env is read back)', async (t) => {
  const dirs = [tempDir('gpu-a'), tempDir('gpu-b'), tempDir('gpu-c')];
  t.after(() => {
    useDevices(null);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  useDevices(deviceIds(2, { CUDA_VISIBLE_DEVICES: '3,5' }));

  const stop = new AbortController();
  const seen: string[] = [];
  let started: () => void;
  const bothStarted = new Promise<void>((resolve) => (started = resolve));
  const onStart = (pid: number) => {
    seen.push(startEnv(pid).get('CUDA_VISIBLE_DEVICES') ?? '(unset)');
    if (seen.length === 2) started();
  };
  const long = dirs.slice(0, 2).map((modelDir) =>
    runStage(stageRequest({ modelDir, end: 100_000, settings: { save_every_n: 100_000 } }), { ...quiet, signal: stop.signal, onStart }));
  await bothStarted;
  assert.deepEqual([...seen].sort(), ['3', '5'], 'two trainings at once get the two devices, one each');
  assert.throws(() => leaseDevice(), /every GPU \(3, 5\) is busy/);
  stop.abort();
  const results = await Promise.all(long);
  assert.ok(results.every((r) => r.stopped));

  // Both devices are free again: the next training gets the lowest.
  let third = '';
  const done = await runStage(stageRequest({ modelDir: dirs[2], end: 2 }), {
    ...quiet, onStart: (pid) => (third = startEnv(pid).get('CUDA_VISIBLE_DEVICES') ?? '(unset)'),
  });
  assert.equal(third, '3');
  assert.equal(done.reachedIteration, 2);
});

test('without --gpus a training child inherits the worker environment unchanged', () => {
  useDevices(null);
  const lease = leaseDevice();
  assert.deepEqual(lease.env, {});
  lease.release();
});

test('thaw worker --gpus 2 says which cluster, namespace and GPUs it serves (GPU mocked: CUDA_VISIBLE_DEVICES=4,7)', async (t) => {
  const server = await startTestServer(t);
  setEnv(t, { CUDA_VISIBLE_DEVICES: '4,7' }); // what the worker process is given; it pins its children within it
  const worker = await spawnWorker(server, ['--queues', 'gpu', '--gpus', '2']);
  t.after(() => killGroup(worker, 'SIGTERM'));
  assert.match(worker.output(), new RegExp(`on ${server.address.replace(/\./g, '\\.')} \\(namespace ${server.namespace}\\).*2 training\\(s\\) at a time on GPUs 4, 7`));
});
