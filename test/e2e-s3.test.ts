/**
 * A pipeline whose model_dir is `s3://…` on a real S3 server (SeaweedFS on loopback): a `thaw worker` process
 * SIGKILLed mid-stage with its local cache deleted, a second worker with an empty cache on the shared checkpoints
 * finishes it, and the final checkpoints are bit-identical to an uninterrupted run's. A bucket that does not exist
 * fails the pipeline with a StorageError before any training.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { listIterations } from '../lib/checkpoint';
import { loadPipeline } from '../lib/pipeline/load';
import { defaultStorages } from '../lib/storage';
import { setEnv, useS3Server } from './helpers/s3';
import { startTestServer } from './helpers/temporal';
import { assertBitIdenticalAfterTakeover, killWorkerAndTakeOver, runCli, SLOW_STAGE_DATA as SLOW, tempDir, writePipeline } from './e2e-harness';

const BUCKET = 'thaw-e2e';

/** The e2e harness' tiny pipeline (toynet, 16×16 synthetic), with its checkpoints in `modelDir`. */
function writeS3Pipeline(dir: string, name: string, modelDir: string, stagesYaml: string): string {
  const file = writePipeline(dir, name, stagesYaml);
  writeFileSync(file, readFileSync(file, 'utf8').replace(`model_dir: ./${name}`, `model_dir: ${modelDir}`));
  return file;
}

test('s3:// model_dir: a worker SIGKILLed mid-stage with its cache deleted; a fresh worker finishes bit-identically', async (t) => {
  await useS3Server(t, [BUCKET]);
  const dir = tempDir('e2e-s3');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const firstCache = path.join(dir, 'cache-first');
  setEnv(t, { THAW_CACHE_DIR: firstCache, THAW_LOCAL_RUNS_DIR: path.join(dir, 'local-runs') }); // spawned workers inherit these

  const server = await startTestServer(t);
  const stages = `  - {name: first, iterations: 300, save_every_n: 15, ${SLOW}}\n  - {name: second, iterations: 10, data: {task: B}}\n`;
  const killed = await loadPipeline(writeS3Pipeline(dir, 'killed', `s3://${BUCKET}/killed`, stages));
  const reference = await loadPipeline(writeS3Pipeline(dir, 'reference', `s3://${BUCKET}/reference`, stages));
  const takeover = await killWorkerAndTakeOver(t, server, {
    killed,
    reference,
    killAtIteration: 20,
    async betweenWorkers() {
      rmSync(firstCache, { recursive: true, force: true }); // the machine is gone, and its disk with it
      assert.ok((await listIterations(`s3://${BUCKET}/killed`)).length > 0, 'checkpoints of the killed run are on S3');
      process.env.THAW_CACHE_DIR = path.join(dir, 'cache-second'); // a new machine: empty cache
    },
  });
  for (const stage of takeover.result.stages) assert.match(stage.checkpoint, new RegExp(`^s3://${BUCKET}/killed/models/model\\.ckpt-\\d+$`));
  await assertBitIdenticalAfterTakeover(takeover);

  // Metrics, TensorBoard events and the loss curve of an s3:// run stay on the workers, under THAW_LOCAL_RUNS_DIR.
  const local = path.join(dir, 'local-runs', BUCKET, 'killed');
  assert.equal(takeover.result.lossCurve, path.join(local, 'loss.svg'));
  assert.match(readFileSync(path.join(local, 'loss.svg'), 'utf8'), /^<svg/);
  const logged = readFileSync(path.join(local, 'logs', 'first.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { iteration: number }).iteration);
  assert.equal(logged.at(-1), 299);
  assert.ok(readdirSync(path.join(local, 'logs', 'first')).some((f) => f.startsWith('events.out.tfevents.')));
  assert.deepEqual(await defaultStorages().for(`s3://${BUCKET}/killed`).list(`s3://${BUCKET}/killed/logs`), [], 'no metrics on S3');
});

test('s3:// model_dir in a bucket that does not exist, or with credentials the store refuses: thaw run fails with a StorageError before training', async (t) => {
  await useS3Server(t, [BUCKET]);
  const dir = tempDir('e2e-s3-nobucket');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeS3Pipeline(dir, 'nobucket', 's3://no-such-bucket/run', `  - {name: only, iterations: 5}\n`);
  const run = await runCli(['run', file], { THAW_STATE_DIR: path.join(dir, '.thaw'), THAW_LOCAL_RUNS_DIR: path.join(dir, 'local-runs') });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, /bucket "no-such-bucket" does not exist on S3 endpoint/);
  assert.doesNotMatch(run.stdout + run.stderr, /\[thaw train\]/);

  const refusedFile = writeS3Pipeline(dir, 'refused', `s3://${BUCKET}/refused`, `  - {name: only, iterations: 5}\n`);
  const refused = await runCli(['run', refusedFile], { THAW_STATE_DIR: path.join(dir, '.thaw'), THAW_LOCAL_RUNS_DIR: path.join(dir, 'local-runs'), AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  // Refused by preflight, for the model_dir itself: no stage started (a stage would fail on its lock file instead).
  assert.match(refused.stdout + refused.stderr, new RegExp(`did not complete: s3://${BUCKET}/refused: S3 endpoint \\S+ refused the S3 credentials \\(SignatureDoesNotMatch\\)`));
  assert.doesNotMatch(refused.stdout + refused.stderr, /stage only:/);
  assert.doesNotMatch(refused.stdout + refused.stderr, /\[thaw train\]|training engine/);
  assert.deepEqual(await listIterations(`s3://${BUCKET}/refused`), [], 'nothing was written');
});
