/**
 * The training lock of a model_dir (lib/storage/lock.ts) on a real local folder and on a real S3 server (SeaweedFS):
 * a second run is refused naming the holder, a stale lock (dead process on this host, expired lease) is taken over
 * with a warning, the same run takes its own lock back, the lease is renewed while held, release removes it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultStorages } from '../lib/storage';
import { LOCK_FILE, lockModelDir, ModelDirLockedError, type LockRecord } from '../lib/storage/lock';
import { useS3Server } from './helpers/s3';

const BUCKET = 'thaw-lock-test';

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

function record(over: Partial<LockRecord>): LockRecord {
  return {
    runId: 'thaw-other-0000000000', stage: 'head', pid: process.pid, host: os.hostname(), since: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 600_000).toISOString(), token: 'feedfacefeedface', ...over,
  };
}

async function readRecord(folder: string): Promise<LockRecord | null> {
  const file = folder.startsWith('s3://') ? `${folder}/${LOCK_FILE}` : path.join(folder, LOCK_FILE);
  try {
    return JSON.parse((await defaultStorages().for(file).readFile(file)).toString('utf8')) as LockRecord;
  } catch {
    return null;
  }
}

async function writeRecord(folder: string, r: LockRecord): Promise<void> {
  const file = folder.startsWith('s3://') ? `${folder}/${LOCK_FILE}` : path.join(folder, LOCK_FILE);
  await defaultStorages().for(file).writeAtomic(file, Buffer.from(JSON.stringify(r)));
}

/** The same cases on a local folder and on S3. */
async function lockCases(t: TestContext, folder: string): Promise<void> {
  await t.test('a second run is refused, naming the holder and the fix; release frees the folder', async () => {
    const first = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' });
    await assert.rejects(lockModelDir(folder, { runId: 'thaw-b-2222222222', stage: 'all' }), (err: Error) => {
      assert.ok(err instanceof ModelDirLockedError, String(err));
      assert.match(err.message, /is being trained by run thaw-a-1111111111 \(stage head, process \d+ on .+, since .+\)/);
      assert.match(err.details.fix ?? '', /thaw cancel thaw-a-1111111111/);
      return true;
    });
    assert.equal((await readRecord(folder))?.runId, 'thaw-a-1111111111', 'the refused run left the holder alone');
    await first.release();
    assert.equal(await readRecord(folder), null, 'released');
    const second = await lockModelDir(folder, { runId: 'thaw-b-2222222222', stage: 'all' });
    await second.release();
  });

  await t.test('two runs taking the free lock at the same instant: exactly one gets it (exclusive create)', async () => {
    for (let round = 0; round < 5; round++) {
      const tries = await Promise.allSettled(['thaw-a-1111111111', 'thaw-b-2222222222'].map((runId) => lockModelDir(folder, { runId, stage: 'head' })));
      const won = tries.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, `round ${round}: ${tries.map((r) => r.status === 'rejected' ? String(r.reason) : 'locked').join('; ')}`);
      assert.ok(tries.some((r) => r.status === 'rejected' && r.reason instanceof ModelDirLockedError));
      await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockModelDir>>>).value.release();
    }
  });

  await t.test('a lock whose process died on this host is taken over with a warning', async () => {
    await writeRecord(folder, record({ pid: deadPid() }));
    const warnings: string[] = [];
    const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }, { onWarning: (l) => warnings.push(l) });
    assert.equal((await readRecord(folder))?.runId, 'thaw-a-1111111111');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /took over the training lock of .* from run thaw-other-0000000000: process \d+ on .+ is gone/);
    await lock.release();
  });

  await t.test('a lease of another host is respected until it expires, then taken over', async () => {
    await writeRecord(folder, record({ host: 'elsewhere.example', pid: 1, expiresAt: new Date(Date.now() + 600_000).toISOString() }));
    await assert.rejects(lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }), ModelDirLockedError);
    await writeRecord(folder, record({ host: 'elsewhere.example', pid: 1, expiresAt: new Date(Date.now() - 1000).toISOString() }));
    const warnings: string[] = [];
    const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }, { onWarning: (l) => warnings.push(l) });
    assert.match(warnings.join('\n'), /its lease expired at/);
    await lock.release();
  });

  await t.test('the same run takes its own lock back quietly (a retry after its worker died)', async () => {
    await writeRecord(folder, record({ runId: 'thaw-a-1111111111', host: 'elsewhere.example', pid: 1 }));
    const warnings: string[] = [];
    const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }, { onWarning: (l) => warnings.push(l) });
    assert.equal((await readRecord(folder))?.token, lock.record.token);
    assert.deepEqual(warnings, []);
    await lock.release();
  });

  await t.test('the lease is renewed while held, so a short lease does not expire under a live holder', async () => {
    const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }, { leaseMs: 2000 });
    const firstExpiry = Date.parse(lock.record.expiresAt);
    const deadline = Date.now() + 60_000;
    while (Date.parse((await readRecord(folder))?.expiresAt ?? '0') <= firstExpiry) {
      assert.ok(Date.now() < deadline, 'the lease was never renewed');
      await sleep(100);
    }
    await lock.release();
    assert.equal(await readRecord(folder), null);
  });

  await t.test('release leaves a record that is no longer ours alone', async () => {
    const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' });
    const other = record({ runId: 'thaw-c-3333333333' });
    await writeRecord(folder, other);
    await lock.release();
    assert.equal((await readRecord(folder))?.runId, 'thaw-c-3333333333');
    await writeRecord(folder, record({ pid: deadPid() }));
  });
}

test('model_dir lock on a local folder', async (t) => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'thaw-lock-'));
  await lockCases(t, folder);
});

test('model_dir lock on S3 (SeaweedFS): a lease object with conditional writes', { timeout: 120_000 }, async (t) => {
  await useS3Server(t, [BUCKET]);
  await lockCases(t, `s3://${BUCKET}/runs/locked`);
});

test('a torn lock record (not JSON) counts as stale', async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'thaw-lock-'));
  writeFileSync(path.join(folder, LOCK_FILE), '{"runId": "thaw-');
  const warnings: string[] = [];
  const lock = await lockModelDir(folder, { runId: 'thaw-a-1111111111', stage: 'head' }, { onWarning: (l) => warnings.push(l) });
  assert.match(warnings.join('\n'), /unreadable/);
  assert.equal(JSON.parse(readFileSync(path.join(folder, LOCK_FILE), 'utf8')).runId, 'thaw-a-1111111111');
  await lock.release();
  assert.equal(existsSync(path.join(folder, LOCK_FILE)), false);
});
