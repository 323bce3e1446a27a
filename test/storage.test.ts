/** lib/storage against a real S3 server (SeaweedFS on loopback) and the local disk. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { isUserError } from '../lib/errors';
import {
  joinLocation, dirnameOf, basenameOf, relativeTo, resolveIn, ReadCache, S3Storage, StorageError, type Storage, type Storages,
} from '../lib/storage';
import { lockModelDir } from '../lib/storage/lock';
import { setEnv, startFaultyS3Proxy, storagesWith, useS3Server } from './helpers/s3';

const BUCKET = 'thaw-storage-test';

function tempDir(t: test.TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function stageAndPublish(storage: Storage, file: string, bytes: Uint8Array, chunk = 1 << 20): Promise<void> {
  const staged = await storage.stage(file, async (sink) => {
    for (let i = 0; i < bytes.length; i += chunk) await sink.write(bytes.subarray(i, i + chunk));
  });
  await staged.publish();
}

/** The same behaviour from both backends. */
async function exerciseStorage(t: test.TestContext, root: string, storages: Storages): Promise<void> {
  const storage = storages.for(root);
  const dir = joinLocation(root, 'models');
  await storage.ensureDir(dir);
  assert.deepEqual(await storage.list(joinLocation(root, 'nothing-here')), []);
  assert.equal(await storage.stat(joinLocation(dir, 'missing')), null);
  await assert.rejects(storage.readFile(joinLocation(dir, 'missing')), { code: 'ENOENT' });

  const data = randomBytes(3 << 20);
  await stageAndPublish(storage, joinLocation(dir, 'a.data'), data);
  await storage.writeAtomic(joinLocation(dir, 'state'), Buffer.from('one'));
  await storage.writeAtomic(joinLocation(dir, 'state'), Buffer.from('two'));
  assert.deepEqual((await storage.list(dir)).sort(), ['a.data', 'state']);
  assert.equal((await storage.stat(joinLocation(dir, 'a.data')))?.size, data.length);
  assert.equal((await storage.readFile(joinLocation(dir, 'state'))).toString(), 'two');

  const source = await storage.open(joinLocation(dir, 'a.data'));
  try {
    assert.equal(source.size, data.length);
    assert.deepEqual(Buffer.from((await source.read(12345, 1000))!), data.subarray(12345, 13345));
    assert.equal(await source.read(data.length - 10, 20), null, 'a read past the end is null');
  } finally {
    await source.close();
  }

  const discarded = await storage.stage(joinLocation(dir, 'b.data'), (sink) => sink.write(Buffer.from('x')));
  await discarded.discard();
  await storage.remove(joinLocation(dir, 'a.data'));
  await storage.remove(joinLocation(dir, 'a.data')); // a missing file is fine
  assert.deepEqual(await storage.list(dir), ['state']);
  t.diagnostic(`${storage.description}: ok`);
}

test('locations: join, split and resolve local paths and s3 URLs alike', () => {
  assert.equal(joinLocation('s3://b/run/', 'models', 'model.ckpt-1'), 's3://b/run/models/model.ckpt-1');
  assert.equal(joinLocation('s3://b', 'x'), 's3://b/x');
  assert.equal(dirnameOf('s3://b/run/models/model.ckpt-1'), 's3://b/run/models');
  assert.equal(dirnameOf('s3://b/top'), 's3://b');
  assert.equal(basenameOf('s3://b/run/models/model.ckpt-1'), 'model.ckpt-1');
  assert.equal(resolveIn('s3://b/run/models', 'model.ckpt-5'), 's3://b/run/models/model.ckpt-5');
  assert.equal(resolveIn('s3://b/run/models', 's3://other/x'), 's3://other/x');
  assert.equal(relativeTo('s3://b/run/models', 's3://b/run/models/model.ckpt-5'), 'model.ckpt-5');
  assert.equal(relativeTo('s3://b/run/models', 's3://c/model.ckpt-5'), 's3://c/model.ckpt-5');
  assert.equal(joinLocation('/tmp/run', 'models'), path.join('/tmp/run', 'models'));
  assert.equal(resolveIn('/tmp/run/models', 'model.ckpt-5'), '/tmp/run/models/model.ckpt-5');
});

test('local storage: write, read, list, ranged reads, remove', async (t) => {
  await exerciseStorage(t, tempDir(t), storagesWith());
});

test('S3 storage against a real S3 server (SeaweedFS)', async (t) => {
  const s3 = await useS3Server(t, [BUCKET]);
  const storages = storagesWith({ cacheDir: tempDir(t), s3PartSize: 5 << 20 });
  const s3Storage = () => storages.for(`s3://${BUCKET}`) as S3Storage;

  await t.test('write, read, list, ranged reads, remove', async (t) => {
    await exerciseStorage(t, `s3://${BUCKET}/basic`, storages);
  });

  await t.test('large objects go up in parts and are verified against the multipart ETag', async () => {
    const storage = s3Storage();
    const file = `s3://${BUCKET}/multipart/big.data`;
    const data = randomBytes(12 << 20);
    const before = storage.traffic.putRequests;
    await stageAndPublish(storage, file, data, 3 << 20);
    assert.equal(storage.traffic.putRequests - before, 3, '12 MiB in 5 MiB parts is three part uploads');
    assert.deepEqual(await storage.readFile(file), data);
  });

  await t.test('storage opened from settings uses them, whatever THAW_* the environment holds (read once at the edge)', async (t) => {
    const mine = tempDir(t);
    const elsewhere = path.join(tempDir(t), 'env-cache');
    // Each of these would break or change what is checked below if storage read the environment at call time.
    setEnv(t, {
      THAW_S3_PART_SIZE: String(64 << 20), THAW_CACHE_DIR: elsewhere, THAW_CACHE_MAX_BYTES: '0', THAW_S3_TIMEOUT_MS: '1',
      THAW_S3_FORCE_PATH_STYLE: '0',
    });
    const given = storagesWith({ s3PartSize: 5 << 20, cacheDir: mine, cacheMaxBytes: 64 << 20 });
    const storage = given.for(`s3://${BUCKET}`) as S3Storage;
    const file = `s3://${BUCKET}/given/big.data`;
    const data = randomBytes(12 << 20);
    const before = storage.traffic.putRequests;
    await stageAndPublish(storage, file, data, 3 << 20);
    assert.equal(storage.traffic.putRequests - before, 3, 'the given 5 MiB parts, not the environment\'s 64 MiB');
    const source = await storage.open(file);
    await source.willReadAll();
    assert.deepEqual(Buffer.from((await source.read(0, source.size))!), data);
    await source.close();
    assert.equal(readdirSync(mine).length, 1, 'the whole read is cached in the given folder');
    assert.ok(!existsSync(elsewhere), 'nothing in the environment\'s cache folder');
    // The training lock uses the same client: the environment's 1 ms timeout and virtual-host style would fail it.
    const lock = await lockModelDir(`s3://${BUCKET}/given`, { runId: 'thaw-given-1', stage: 'only' }, { storages: given });
    await lock.release();
  });

  await t.test('a ranged read fetches only the bytes asked for', async () => {
    const storage = s3Storage();
    const file = `s3://${BUCKET}/ranged/big.data`;
    const data = randomBytes(8 << 20);
    await stageAndPublish(storage, file, data);
    const source = await storage.open(file);
    const before = { ...storage.traffic };
    const slice = await source.read(5_000_000, 4096);
    await source.close();
    assert.deepEqual(Buffer.from(slice!), data.subarray(5_000_000, 5_004_096));
    assert.equal(storage.traffic.getRequests - before.getRequests, 1);
    assert.equal(storage.traffic.bytesDownloaded - before.bytesDownloaded, 4096);
  });

  await t.test('whole reads go through the local cache, bounded by bytes and evicted least recently used first', async (t) => {
    const cacheDir = tempDir(t);
    const storage = storagesWith({ cacheDir, cacheMaxBytes: 5 << 20 }).for(`s3://${BUCKET}`) as S3Storage;
    const files = ['one', 'two', 'three'].map((n) => `s3://${BUCKET}/cached/${n}.data`);
    const payloads = files.map(() => randomBytes(2 << 20));
    for (let i = 0; i < files.length; i++) await stageAndPublish(storage, files[i], payloads[i]);

    const readWhole = async (i: number) => {
      const source = await storage.open(files[i]);
      await source.willReadAll();
      const bytes = await source.read(0, source.size);
      await source.close();
      assert.deepEqual(Buffer.from(bytes!), payloads[i]);
    };
    await readWhole(0);
    const afterFirst = storage.traffic.bytesDownloaded;
    await readWhole(0);
    assert.equal(storage.traffic.bytesDownloaded, afterFirst, 'the second read is served from the cache');
    await readWhole(1);
    await readWhole(2); // 6 MiB would exceed the 5 MiB limit: the least recently used (one) goes
    assert.equal(readdirSync(cacheDir).length, 2);
    assert.ok((await new ReadCache(cacheDir, 5 << 20).usage()) <= 5 << 20);
    const beforeOne = storage.traffic.bytesDownloaded;
    await readWhole(0);
    assert.equal(storage.traffic.bytesDownloaded - beforeOne, 2 << 20, 'an evicted object is fetched again');
  });

  await t.test('an object replaced after open is never read mixed', async () => {
    const storage = s3Storage();
    const file = `s3://${BUCKET}/replaced/x.data`;
    await stageAndPublish(storage, file, randomBytes(1000));
    const source = await storage.open(file);
    await stageAndPublish(storage, file, randomBytes(1000));
    await assert.rejects(source.read(0, 10), /changed while it was being read/);
    await source.close();
  });

  await t.test('an upload that the store stops answering fails, and leaves no object behind', async (t) => {
    setEnv(t, { AWS_MAX_ATTEMPTS: '1' });
    const storage = storagesWith({ s3TimeoutMs: 1500, s3PartSize: 5 << 20 }).for(`s3://${BUCKET}`);
    const file = `s3://${BUCKET}/interrupted/big.data`;
    await assert.rejects(storage.stage(file, async (sink) => {
      await sink.write(randomBytes(5 << 20)); // first part goes up
      s3.pause();
      await sink.write(randomBytes(5 << 20)); // second part: the server no longer answers
    }), (err: Error) => {
      // Infrastructure trouble, not the user's: a plain error (retried), naming the object and the timeout.
      assert.ok(!isUserError(err), err.message);
      assert.match(err.message, new RegExp(`^${file}: S3 endpoint .*exceeded the configured 1500 ms requestTimeout`));
      return true;
    });
    s3.resume();
    assert.equal(await storage.stat(file), null);
  });

  await t.test('bytes changed in transit are refused by their Content-MD5; an ETag that does not describe the content is caught', async (t) => {
    const proxy = await startFaultyS3Proxy(t, s3.endpoint);
    setEnv(t, { AWS_ENDPOINT_URL_S3: proxy.endpoint });
    const storage = storages.for(`s3://${BUCKET}/faults`); // a client for the endpoint set just now
    const bytes = randomBytes(4096);

    // A real store refuses such bytes: AWS by their Content-MD5 (BadDigest), SeaweedFS by the signed payload hash
    // (x-amz-content-sha256). moto stored them, and then thaw's own ETag check caught it. Either way the write fails,
    // and is retried as the infrastructure fault it is.
    proxy.faults.corruptPutBodies = true;
    const changed = `s3://${BUCKET}/faults/changed-in-transit`;
    const refused = /BadDigest|InvalidDigest|XAmzContentSHA256Mismatch|'x-amz-content-sha256' header does not match|does not match the content|is not what was uploaded/;
    await assert.rejects(storage.writeAtomic(changed, bytes), (err: Error) => !isUserError(err) && refused.test(err.message));
    await assert.rejects(stageAndPublish(storage, `${changed}.data`, bytes), (err: Error) => !isUserError(err) && refused.test(err.message));
    proxy.faults.corruptPutBodies = false;

    // The store says it holds something else than what was sent: the write is not taken as done.
    proxy.faults.etag = { method: 'PUT', value: '"0123456789abcdef0123456789abcdef"' };
    await assert.rejects(storage.writeAtomic(`s3://${BUCKET}/faults/state`, bytes), /stored ETag "0123456789abcdef0123456789abcdef" does not match the content/);
    // An upload whose object is not the one uploaded when it is published (replaced, or mis-stored) is not published.
    proxy.faults.etag = { method: 'HEAD', value: '"fedcba9876543210fedcba9876543210"' };
    await assert.rejects(
      stageAndPublish(storage, `s3://${BUCKET}/faults/a.data`, bytes),
      /faults\/a\.data: the stored object \(4096 bytes, ETag fedcba9876543210fedcba9876543210\) is not what was uploaded \(4096 bytes, ETag [0-9a-f]{32}\)/,
    );
  });

  await t.test('bad credentials: a StorageError naming the URL and the fix', async (t) => {
    setEnv(t, { AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    const url = `s3://${BUCKET}/run`;
    await assert.rejects(storages.check(url), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.type, 'StorageError');
      assert.match(err.message, new RegExp(`${url}.*refused the S3 credentials \\(SignatureDoesNotMatch\\)`));
      assert.match(err.details.fix!, /AWS_ACCESS_KEY_ID/);
      return true;
    });
    setEnv(t, { AWS_ACCESS_KEY_ID: 'AKIANOSUCHKEY0000000' });
    await assert.rejects(storages.check(url), /InvalidAccessKeyId/);
  });

  await t.test('a missing bucket: a StorageError naming the bucket and the fix', async () => {
    const url = 's3://no-such-bucket-here/run';
    await assert.rejects(storages.check(url), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /bucket "no-such-bucket-here" does not exist on S3 endpoint http:\/\/127\.0\.0\.1:\d+/);
      assert.match(err.details.fix!, /aws s3 mb s3:\/\/no-such-bucket-here/);
      return true;
    });
    await assert.rejects(storages.for(url).list(url), StorageError);
  });

  await t.test('check passes on a usable bucket and leaves nothing behind', async () => {
    await storages.check(`s3://${BUCKET}/checked`);
    assert.deepEqual(await storages.for(`s3://${BUCKET}`).list(`s3://${BUCKET}/checked`), []);
  });
});
