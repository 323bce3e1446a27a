/**
 * model_dir logic and the writer's guarantees: iterations present, state file (TensorFlow's text format, relative
 * paths, written last), latest valid checkpoint with crash states, starting_iter, retention that keeps what the
 * pipeline needs, sidecars, input validation, diff.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applyRetention, CheckpointError, CheckpointReader, checkpointPrefix, dataFile, diffCheckpoints, indexFile,
  latestValidCheckpoint, listIterations, listVariables, metaFile, modelsDir, readSidecar, resolveCheckpointTarget,
  resolveStartingCheckpoint, saveCheckpoint, STATE_FILE, toFloat32, writeCheckpoint, type Tensor,
} from '../lib/checkpoint';
import { BundleHeaderProto, encodeEntry } from '../lib/checkpoint/protos';
import { buildTable } from '../lib/checkpoint/sstable';
import { parseCheckpointState } from '../lib/checkpoint/state-file';
import { crc32c, maskCrc } from '../lib/util/crc32c';

const f32 = (shape: number[], values: number[]): Tensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
const step = (n: number): Tensor => ({ dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(n)]) });
const weights = (n: number) => new Map<string, Tensor>([['w', f32([2], [n, -n])], ['global_step', step(n)]]);

describe('model_dir checkpoints', () => {
  let root: string;
  let k = 0;
  const fresh = () => path.join(root, `run-${k++}`);
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-dir-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('saveCheckpoint writes data, index, .meta, sidecar and a TensorFlow-style state file, leaving no temp files', async () => {
    const dir = fresh();
    for (const i of [5, 40, 300]) await saveCheckpoint(dir, i, weights(i), { sidecar: { stage: 'a', iteration: i } });
    assert.deepEqual(await listIterations(dir), [5, 40, 300]);
    assert.equal(await readFile(path.join(modelsDir(dir), STATE_FILE), 'utf8'),
      'model_checkpoint_path: "model.ckpt-300"\nall_model_checkpoint_paths: "model.ckpt-5"\n' +
      'all_model_checkpoint_paths: "model.ckpt-40"\nall_model_checkpoint_paths: "model.ckpt-300"\n');
    const files = await readdir(modelsDir(dir));
    assert.deepEqual(files.filter((f) => f.startsWith('.') || f.includes('.tmp')), []);
    for (const f of [indexFile, metaFile]) assert.ok(files.includes(path.basename(f(checkpointPrefix(dir, 40)))));
    assert.deepEqual(await readSidecar(checkpointPrefix(dir, 40)), { stage: 'a', iteration: 40 });
    assert.equal(await readSidecar(path.join(dir, 'models', 'nothing')), null);
    assert.equal(await resolveCheckpointTarget(dir), checkpointPrefix(dir, 300));
    assert.equal(await resolveCheckpointTarget(modelsDir(dir)), checkpointPrefix(dir, 300));
    assert.deepEqual(await listVariables(dir), [{ name: 'global_step', dtype: 'int64', shape: [] }, { name: 'w', dtype: 'float32', shape: [2] }]);
  });

  it('state file parsing: relative and absolute paths, escapes, missing latest', () => {
    const state = parseCheckpointState('model_checkpoint_path: "/abs/model.ckpt-9"\nall_model_checkpoint_paths: "model.ckpt-1"\n' +
      'all_model_checkpoint_timestamps: 1.5\nall_model_checkpoint_paths: "sub\\\\x\\"y"\n', '/base');
    assert.deepEqual(state, { latest: '/abs/model.ckpt-9', all: ['/base/model.ckpt-1', '/base/sub\\x"y', '/abs/model.ckpt-9'] });
    assert.equal(parseCheckpointState('all_model_checkpoint_paths: "a"\n', '/base'), null);
  });

  it('latestValidCheckpoint: state file first; a crash before the state file moved, or a torn newer checkpoint, is never used', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, 100, weights(100));
    await saveCheckpoint(dir, 200, weights(200));
    // Crash after model.ckpt-300 was completely written but before the state file moved: the state file wins.
    await writeCheckpoint(checkpointPrefix(dir, 300), weights(300));
    assert.deepEqual(await latestValidCheckpoint(dir), { iteration: 200, prefix: checkpointPrefix(dir, 200) });
    // Crash while writing model.ckpt-400: its data is in place, its .index is not (plus a stray temp file).
    await writeCheckpoint(checkpointPrefix(dir, 400), weights(400));
    await unlink(indexFile(checkpointPrefix(dir, 400)));
    await writeFile(path.join(modelsDir(dir), '.model.ckpt-400.index.tmp-1-abcd'), 'partial');
    assert.deepEqual(await listIterations(dir), [100, 200, 300]);
    // Without a state file the newest complete, verified checkpoint is used.
    await unlink(path.join(modelsDir(dir), STATE_FILE));
    assert.equal((await latestValidCheckpoint(dir))?.iteration, 300);
    assert.equal((await latestValidCheckpoint(dir, { maxIteration: 250 }))?.iteration, 200);
    assert.equal((await latestValidCheckpoint(dir, { accept: async (_p, i) => i < 200 }))?.iteration, 100);
    assert.equal(await latestValidCheckpoint(fresh()), null);
  });

  it('resolveStartingCheckpoint: 0 is a fresh start, -1 the latest, N that checkpoint', async () => {
    const dir = fresh();
    assert.equal(await resolveStartingCheckpoint(dir, 0), null);
    assert.equal(await resolveStartingCheckpoint(dir, -1), null);
    await assert.rejects(resolveStartingCheckpoint(dir, 7), (e: Error) => e instanceof CheckpointError && /holds no checkpoints/.test(e.message));
    await saveCheckpoint(dir, 7, weights(7));
    await saveCheckpoint(dir, 9, weights(9));
    assert.equal(await resolveStartingCheckpoint(dir, 0), null);
    assert.deepEqual(await resolveStartingCheckpoint(dir, 7), { iteration: 7, prefix: checkpointPrefix(dir, 7) });
    assert.equal((await resolveStartingCheckpoint(dir, -1))?.iteration, 9);
    await assert.rejects(resolveStartingCheckpoint(dir, -3), CheckpointError);
  });

  it('retention keeps the newest, the state file latest and every iteration in keep; the state file drops deleted ones first', async () => {
    const dir = fresh();
    for (const i of [100, 200, 300]) await saveCheckpoint(dir, i, weights(i), { maxCheckpoints: 2, keep: [100] });
    assert.deepEqual(await listIterations(dir), [100, 300]);
    await saveCheckpoint(dir, 400, weights(400), { maxCheckpoints: 2, keep: [100] });
    assert.deepEqual(await listIterations(dir), [100, 400]);
    const names = await readdir(modelsDir(dir));
    assert.deepEqual(names.filter((n) => n.includes('ckpt-200') || n.includes('ckpt-300')), []);
    assert.match(await readFile(path.join(modelsDir(dir), STATE_FILE), 'utf8'), /^model_checkpoint_path: "model.ckpt-400"\nall_model_checkpoint_paths: "model.ckpt-100"\nall_model_checkpoint_paths: "model.ckpt-400"\n$/);
    assert.deepEqual(await applyRetention(dir, 1, []), [100]);
    assert.deepEqual(await applyRetention(dir, 1, []), []);
    assert.deepEqual(await listIterations(dir), [400]);
  });

  it('writeCheckpoint refuses tensors whose data does not fit dtype and shape', async () => {
    const prefix = path.join(fresh(), 'bad');
    const bad: [Tensor, RegExp][] = [
      [f32([3], [1, 2]), /shape \[3\] needs 3 elements, data has 2/],
      [{ dtype: 'float32', shape: [1], data: Float64Array.from([1]) }, /float32 data must be a Float32Array/],
      [{ dtype: 'int4' as 'int8', shape: [1], data: Int8Array.from([1]) }, /unknown dtype "int4"/],
      [{ dtype: 'float32', shape: [-1], data: new Float32Array(0) }, /invalid shape/],
    ];
    for (const [t, message] of bad) {
      await assert.rejects(writeCheckpoint(prefix, new Map([['v', t]])), (e: Error) => e instanceof CheckpointError && message.test(e.message));
    }
    await assert.rejects(writeCheckpoint(prefix, new Map([['a\uD800', f32([1], [1])]])), (e: Error) => e instanceof CheckpointError && /not valid Unicode/.test(e.message));
    await assert.rejects(writeCheckpoint(prefix, new Map([['\u0000x', f32([1], [1])]])), (e: Error) => e instanceof CheckpointError && /NUL/.test(e.message));
    await assert.rejects(CheckpointReader.open(prefix), CheckpointError, 'nothing was written');
  });

  it('rewriting a prefix replaces it whole; toFloat32 converts what the trainer reads', async () => {
    const prefix = path.join(fresh(), 'p');
    await writeCheckpoint(prefix, new Map([['a', f32([1], [1])]]));
    await writeCheckpoint(prefix, new Map([
      ['h', { dtype: 'float16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x7c00]) }],
      ['bf', { dtype: 'bfloat16', shape: [1], data: Uint16Array.from([0x3fc0]) }],
      ['i', { dtype: 'int64', shape: [1], data: BigInt64Array.from([-3n]) }],
    ]));
    const reader = await CheckpointReader.open(prefix);
    try {
      assert.deepEqual(reader.variables().map((v) => v.name), ['bf', 'h', 'i']);
      assert.deepEqual([...toFloat32(await reader.read('h'))], [1, -2, Infinity]);
      assert.deepEqual([...toFloat32(await reader.read('bf'))], [1.5]);
      assert.deepEqual([...toFloat32(await reader.read('i'))], [-3]);
    } finally {
      await reader.close();
    }
    assert.ok((await readFile(dataFile(prefix, 0, 1))).length === 6 + 2 + 8);
  });

  it('reads bundles written on a big-endian host (header endianness BIG): checksum over the stored bytes, then swapped', async () => {
    const prefix = path.join(fresh(), 'be');
    await mkdir(path.dirname(prefix), { recursive: true });
    const stored = Buffer.alloc(12);
    stored.writeFloatBE(1.5, 0);
    stored.writeInt32BE(-7, 4);
    stored.writeUInt16BE(0x3c00, 8);
    stored.writeUInt16BE(0xc000, 10);
    const entry = (dtype: number, shape: number[], offset: number, size: number) =>
      encodeEntry({ dtype, shape, offset, size, crc32c: maskCrc(crc32c(stored.subarray(offset, offset + size))) });
    const header = BundleHeaderProto.encode(BundleHeaderProto.fromObject({ numShards: 1, endianness: 1, version: { producer: 1 } })).finish();
    await writeFile(dataFile(prefix, 0, 1), stored);
    await writeFile(indexFile(prefix), buildTable([
      { key: new Uint8Array(0), value: header },
      { key: Buffer.from('f'), value: entry(1, [], 0, 4) },
      { key: Buffer.from('h'), value: entry(19, [2], 8, 4) },
      { key: Buffer.from('i'), value: entry(3, [1], 4, 4) },
    ]));
    const reader = await CheckpointReader.open(prefix);
    try {
      assert.deepEqual([...toFloat32(await reader.read('f'))], [1.5]);
      assert.deepEqual([...(await reader.read('i')).data as Int32Array], [-7]);
      assert.deepEqual([...toFloat32(await reader.read('h'))], [1, -2]);
    } finally {
      await reader.close();
    }
  });

  it('diffCheckpoints: same (bitwise, NaN included), changed with max |a-b|, only in A / B, dtype or shape mismatch', async () => {
    const dir = fresh();
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const common = (): [string, Tensor][] => [['nan', f32([2], [NaN, 1])], ['s', { dtype: 'string', shape: [1], data: [Buffer.from('x')] }]];
    await writeCheckpoint(a, new Map([...common(), ['w', f32([3], [1, 2, 3])], ['only_a', step(1)], ['m', f32([2], [0, 0])]]));
    await writeCheckpoint(b, new Map([...common(), ['w', f32([3], [1, 2.5, 2])], ['only_b', step(1)], ['m', f32([1, 2], [0, 0])]]));
    const report = await diffCheckpoints(a, b);
    assert.equal(report.identical, false);
    assert.deepEqual(report.variables.map((v) => [v.name, v.status, v.maxAbsDiff]), [
      ['m', 'mismatch', undefined], ['nan', 'same', undefined], ['only_a', 'onlyA', undefined],
      ['only_b', 'onlyB', undefined], ['s', 'same', undefined], ['w', 'changed', 1],
    ]);
    assert.deepEqual(report.counts, { same: 2, changed: 1, onlyA: 1, onlyB: 1, mismatch: 1 });
    assert.equal((await diffCheckpoints(a, a)).identical, true);
  });
});
