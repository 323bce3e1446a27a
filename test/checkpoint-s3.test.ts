/**
 * Checkpoints in an `s3://` model_dir on a real S3 server (SeaweedFS on loopback): the same guarantees as on a
 * local disk — state object last, torn or corrupt checkpoints never chosen, an interrupted save leaves the previous
 * latest — and restoring one tensor fetches that tensor's bytes only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import {
  applyRetention, CheckpointReader, checkpointPrefix, dataFile, indexFile, latestValidCheckpoint, listIterations, listVariables,
  locateCheckpoint, modelsDir, readCheckpointState, readSidecar, resolveCheckpointTarget, resolveStartingCheckpoint, saveCheckpoint,
  diffCheckpoints, verifyCheckpoint, type Tensor,
} from '../lib/checkpoint';
import { isUserError } from '../lib/errors';
import { defaultStorages, joinLocation, type S3Storage } from '../lib/storage';
import { lockModelDir } from '../lib/storage/lock';
import { TF_FIXTURES_DIR } from './helpers/fixtures';
import { setEnv, storagesWith, useS3Server } from './helpers/s3';

const BUCKET = 'thaw-ckpt-test';
const f32 = (n: number, fill: (i: number) => number): Tensor => ({ dtype: 'float32', shape: [n], data: Float32Array.from({ length: n }, (_, i) => fill(i)) });
const step = (n: number): Tensor => ({ dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(n)]) });
const weights = (n: number, big = 1000) =>
  new Map<string, Tensor>([['big', f32(big, (i) => i * n)], ['small', f32(3, () => n)], ['global_step', step(n)]]);

test('checkpoints on S3', async (t) => {
  const server = await useS3Server(t, [BUCKET]);
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'thaw-s3-cache-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const storages = storagesWith({ cacheDir });
  // Every checkpoint function below is given these storages, and must pass them all the way down: the defaults fail.
  t.mock.method(defaultStorages(), 'for', (location: string) => {
    throw new Error(`${location}: opened with the default storages, not the ones given`);
  });
  const s3 = storages.for(`s3://${BUCKET}`) as S3Storage;
  let k = 0;
  const fresh = () => `s3://${BUCKET}/run-${k++}`;

  await t.test('save, list, latest, read back, state object and retention', async () => {
    const dir = fresh();
    for (const i of [5, 40, 300]) await saveCheckpoint(dir, i, weights(i), { sidecar: { stage: 'a', iteration: i }, maxCheckpoints: 2, storages });
    assert.deepEqual(await listIterations(dir, { storages }), [40, 300]);
    const state = await readCheckpointState(modelsDir(dir), { storages });
    assert.deepEqual(state, { latest: checkpointPrefix(dir, 300), all: [checkpointPrefix(dir, 40), checkpointPrefix(dir, 300)] });
    assert.equal((await s3.readFile(joinLocation(modelsDir(dir), 'checkpoint'))).toString(),
      'model_checkpoint_path: "model.ckpt-300"\nall_model_checkpoint_paths: "model.ckpt-40"\nall_model_checkpoint_paths: "model.ckpt-300"\n');
    assert.deepEqual(await latestValidCheckpoint(dir, { storages }), { iteration: 300, prefix: checkpointPrefix(dir, 300) });
    assert.deepEqual(await readSidecar(checkpointPrefix(dir, 300), { storages }), { stage: 'a', iteration: 300 });
    assert.equal(await resolveCheckpointTarget(dir, { storages }), checkpointPrefix(dir, 300));
    assert.deepEqual((await listVariables(dir, { storages })).map((v) => v.name), ['big', 'global_step', 'small']);
    const reader = await CheckpointReader.open(checkpointPrefix(dir, 300), { storages });
    assert.deepEqual((await reader.read('small')).data, Float32Array.from([300, 300, 300]));
    await reader.close();
    assert.equal((await s3.list(modelsDir(dir))).filter((n) => n.startsWith('model.ckpt-5.')).length, 0, 'retention deleted every object of 5');
  });

  await t.test('starting point, verification, retention by sidecar, locating and the lock: on the given storages too', async () => {
    const dir = fresh();
    for (const i of [1, 2, 3]) await saveCheckpoint(dir, i, weights(i), { sidecar: { stage: 'a', iteration: i }, storages });
    assert.deepEqual(await resolveStartingCheckpoint(dir, -1, { storages }), { iteration: 3, prefix: checkpointPrefix(dir, 3) });
    assert.deepEqual(await resolveStartingCheckpoint(dir, 2, { storages }), { iteration: 2, prefix: checkpointPrefix(dir, 2) });
    assert.equal(await verifyCheckpoint(checkpointPrefix(dir, 1), { storages }), true);
    assert.deepEqual(await applyRetention(dir, 2, [], { mayDelete: () => true, storages }), [1]);
    assert.deepEqual(await locateCheckpoint(modelsDir(dir), { storages }), { prefix: checkpointPrefix(dir, 3), why: `the latest one per ${joinLocation(modelsDir(dir), 'checkpoint')}` });
    const lock = await lockModelDir(dir, { runId: 'thaw-s3-1', stage: 'a' }, { storages });
    await lock.release();
  });

  await t.test('restoring one tensor fetches only its bytes', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, 1, weights(1, 2_000_000), { storages }); // 8 MB "big", 12-byte "small"
    const reader = await CheckpointReader.open(checkpointPrefix(dir, 1), { storages });
    const before = { ...s3.traffic };
    await reader.read('small');
    const fetched = s3.traffic.bytesDownloaded - before.bytesDownloaded;
    await reader.close();
    t.diagnostic(`one 12-byte tensor from an 8 MB checkpoint: ${fetched} bytes fetched in ${s3.traffic.getRequests - before.getRequests} GET`);
    assert.equal(fetched, 12);
  });

  await t.test('what is read is capped: a shard is read only as far as its index declares, a small file only up to its limit', async () => {
    const dir = fresh();
    const prefix = checkpointPrefix(dir, 1);
    await saveCheckpoint(dir, 1, weights(1), { storages });
    const shard = dataFile(prefix, 0, 1);
    const real = await s3.readFile(shard);
    await s3.writeAtomic(shard, Buffer.concat([real, Buffer.alloc(6 << 20, 7)])); // 6 MB more than the index declares
    const reader = await CheckpointReader.open(prefix, { storages });
    const before = { ...s3.traffic };
    await reader.verifyAll();
    await reader.close();
    assert.equal(s3.traffic.bytesDownloaded - before.bytesDownloaded, real.length, 'verifyAll fetched the declared bytes, not the object');
    const got = s3.traffic.bytesDownloaded;
    await assert.rejects(s3.readFile(shard, { maxBytes: 1000 }), (e: NodeJS.ErrnoException) => e.code === 'EFBIG');
    assert.equal(s3.traffic.bytesDownloaded, got, 'an object over the limit is not downloaded');
  });

  await t.test('a checkpoint TensorFlow wrote (two shards) reads the same from S3 as from disk', async () => {
    const fixture = path.join(TF_FIXTURES_DIR, 'tf1-transformer-2shards-adam');
    const dir = fresh();
    for (const name of readdirSync(fixture).filter((n) => n.startsWith('model.ckpt-'))) {
      await s3.writeAtomic(joinLocation(modelsDir(dir), name), readFileSync(path.join(fixture, name)));
    }
    const report = await diffCheckpoints(path.join(fixture, 'model.ckpt-1'), checkpointPrefix(dir, 1), { storages });
    assert.ok(report.variables.length > 10);
    assert.ok(report.variables.every((v) => v.status === 'same'), JSON.stringify(report.variables.filter((v) => v.status !== 'same')));
  });

  await t.test('torn and corrupt checkpoints are never chosen', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, 10, weights(10), { storages });
    await saveCheckpoint(dir, 20, weights(20), { storages });
    await saveCheckpoint(dir, 30, weights(30), { storages });
    // 30: one byte of its data flipped (the state object still names it); 20: its data object gone.
    const data30 = dataFile(checkpointPrefix(dir, 30), 0, 1);
    const bytes = await s3.readFile(data30);
    bytes[100] ^= 0xff;
    await s3.writeAtomic(data30, bytes);
    await s3.remove(dataFile(checkpointPrefix(dir, 20), 0, 1));
    assert.deepEqual(await latestValidCheckpoint(dir, { storages }), { iteration: 10, prefix: checkpointPrefix(dir, 10) });
  });

  await t.test('a save interrupted by the store stopping mid-upload leaves the previous checkpoint the latest', async (t) => {
    const dir = fresh();
    await saveCheckpoint(dir, 100, weights(100), { storages });
    setEnv(t, { AWS_MAX_ATTEMPTS: '1' });
    // 16 MB of data in 5 MiB parts: the store freezes as soon as the first part is stored.
    const short = storagesWith({ cacheDir, s3TimeoutMs: 1500, s3PartSize: 5 << 20 });
    const store = short.for(dir) as S3Storage; // a client with the short timeout
    const before = store.traffic.putRequests;
    const watcher = setInterval(() => {
      if (store.traffic.putRequests > before) server.pause();
    }, 2);
    await assert.rejects(saveCheckpoint(dir, 200, weights(200, 4_000_000), { storages: short }), (err: Error) => {
      // A retryable infrastructure error naming the shard whose upload stopped, not a user error.
      assert.ok(!isUserError(err), err.message);
      assert.match(err.message, /model\.ckpt-200\.data-00000-of-00001: S3 endpoint .*exceeded the configured 1500 ms requestTimeout/);
      return true;
    });
    clearInterval(watcher);
    server.resume();
    assert.deepEqual(await listIterations(dir, { storages }), [100]);
    assert.equal((await readCheckpointState(modelsDir(dir), { storages }))?.latest, checkpointPrefix(dir, 100));
    assert.deepEqual(await latestValidCheckpoint(dir, { storages }), { iteration: 100, prefix: checkpointPrefix(dir, 100) });
    assert.equal(await s3.stat(indexFile(checkpointPrefix(dir, 200))), null);
  });
});
