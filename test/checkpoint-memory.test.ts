/**
 * Reading a checkpoint holds a few tensors at a time, not its data shard: verifying one of 384 MB (96 tensors of
 * 4 MB) grows the reader's peak memory by well under the shard's size. Measured in a child process (peak RSS is per
 * process); no wall-clock assertion.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { dataFile, writeCheckpoint, type Tensor } from '../lib/checkpoint';
import { REPO_ROOT } from './helpers/python';

const TENSORS = 96;
const ELEMENTS = 1 << 20; // float32: 4 MiB each
const MiB = 1 << 20;

test('verifying a 384 MiB checkpoint of 4 MiB tensors grows the reader\'s peak memory by under a third of its data', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-ckpt-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = path.join(dir, 'model.ckpt-1');
  const tensors = new Map<string, Tensor>();
  for (let i = 0; i < TENSORS; i++) {
    const data = new Float32Array(ELEMENTS);
    for (let j = 0; j < ELEMENTS; j += 101) data[j] = i + j; // not all zeros: every block has its own checksum
    tensors.set(`layer_${String(i).padStart(3, '0')}/weights`, { dtype: 'float32', shape: [ELEMENTS], data });
  }
  await writeCheckpoint(prefix, tensors);
  tensors.clear();
  const shardBytes = statSync(dataFile(prefix, 0, 1)).size;
  assert.equal(shardBytes, TENSORS * ELEMENTS * 4);

  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, 'helpers', 'measure-verify.ts'), prefix], { cwd: REPO_ROOT });
  const { beforeBytes, afterBytes } = JSON.parse(stdout) as { beforeBytes: number; afterBytes: number };
  const growth = afterBytes - beforeBytes;
  t.diagnostic(`data shard ${shardBytes / MiB} MiB; peak RSS ${(beforeBytes / MiB).toFixed(0)} → ${(afterBytes / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)} MiB)`);
  // Two tensors in flight (the one verified, the next one read) plus what the garbage collector has not yet freed.
  assert.ok(growth < shardBytes / 3, `the reader grew by ${(growth / MiB).toFixed(0)} MiB for a ${shardBytes / MiB} MiB shard`);
});
