/**
 * Damaged checkpoints: a flipped byte in the index or the data, every file truncated, a deleted shard, an unknown
 * dtype, a non-checkpoint index, a missing prefix. Each gives one CheckpointError naming the file and the problem,
 * the CLI prints it without a stack trace, and starting_iter -1 falls back to the previous valid checkpoint.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CheckpointError, CheckpointReader, checkpointPrefix, dataFile, indexFile, latestValidCheckpoint, listIterations,
  listVariables, readSidecar, resolveStartingCheckpoint, saveCheckpoint, sidecarFile, STATE_FILE, type Tensor,
} from '../lib/checkpoint';
import { BundleEntryProto, BundleHeaderProto, encodeEntry, encodeHeader } from '../lib/checkpoint/protos';
import { buildTable } from '../lib/checkpoint/sstable';
import { REPO_ROOT } from './helpers/python';

const execFileAsync = promisify(execFile);

function tensors(step: number): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['net/w', { dtype: 'float32', shape: [4, 8], data: Float32Array.from({ length: 32 }, (_, i) => i * step) }],
    ['net/b', { dtype: 'float32', shape: [8], data: new Float32Array(8).fill(step) }],
    ['global_step', { dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(step)]) }],
  ]);
}

async function expectCheckpointError(p: Promise<unknown>, pattern: RegExp, file: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(file), `message names ${file}: ${err.message}`);
    return true;
  });
}

async function readEverything(prefix: string): Promise<void> {
  const reader = await CheckpointReader.open(prefix);
  try {
    await reader.verifyAll();
  } finally {
    await reader.close();
  }
}

async function flipByte(file: string, at: (size: number) => number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at(bytes.length)] ^= 0x40;
  await writeFile(file, bytes);
}

describe('damaged checkpoints', () => {
  let root: string;
  let pristine: string;
  let n = 0;
  /** A fresh copy of a model_dir holding valid checkpoints 100 and 200 (state file → 200). */
  const freshModelDir = async () => {
    const dir = path.join(root, `copy-${n++}`);
    await cp(pristine, dir, { recursive: true });
    return { dir, latest: checkpointPrefix(dir, 200) };
  };

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-corrupt-'));
    pristine = path.join(root, 'pristine');
    await saveCheckpoint(pristine, 100, tensors(100), { sidecar: { iteration: 100 } });
    await saveCheckpoint(pristine, 200, tensors(200), { sidecar: { iteration: 200 } });
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function assertFallsBack(dir: string): Promise<void> {
    const start = await resolveStartingCheckpoint(dir, -1);
    assert.equal(start?.iteration, 100, 'starting_iter -1 falls back to the previous valid checkpoint');
    await readEverything(start!.prefix);
  }

  it('a flipped byte in the index: checksum mismatch, fallback to the previous checkpoint', async () => {
    const { dir, latest } = await freshModelDir();
    await flipByte(indexFile(latest), () => 20);
    await expectCheckpointError(CheckpointReader.open(latest), /checksum mismatch/, indexFile(latest));
    await assertFallsBack(dir);
  });

  it('a flipped byte in the magic number: not a checkpoint index', async () => {
    const { dir, latest } = await freshModelDir();
    await flipByte(indexFile(latest), (size) => size - 1);
    await expectCheckpointError(listVariables(latest), /bad magic number/, indexFile(latest));
    await assertFallsBack(dir);
  });

  it('a flipped byte in the data: that tensor fails its checksum, the others still read', async () => {
    const { dir, latest } = await freshModelDir();
    const data = dataFile(latest, 0, 1);
    await flipByte(data, () => 10); // inside the first tensor in key order: global_step (8 bytes), then net/b
    const reader = await CheckpointReader.open(latest);
    try {
      await expectCheckpointError(reader.read('net/b'), /variable "net\/b": checksum mismatch/, data);
      assert.equal((await reader.read('net/w')).data.length, 32);
      // readAll (prefetching the next tensor) hands out the good ones in order, then stops at the bad one.
      const seen: string[] = [];
      const readAll = async () => {
        for await (const [name] of reader.readAll()) seen.push(name);
      };
      await expectCheckpointError(readAll(), /variable "net\/b": checksum mismatch/, data);
      assert.deepEqual(seen, ['global_step']);
      for await (const [name] of reader.readAll()) {
        assert.equal(name, 'global_step'); // stopping early leaves no unhandled rejection behind
        break;
      }
    } finally {
      await reader.close();
    }
    await assertFallsBack(dir);
  });

  it('a truncated index (to any length) is refused with a clear message', async () => {
    for (const keep of [0, 10, 47, 100, -1]) {
      const { dir, latest } = await freshModelDir();
      const file = indexFile(latest);
      const size = (await readFile(file)).length;
      await truncate(file, keep >= 0 ? keep : size - 1);
      await expectCheckpointError(CheckpointReader.open(latest), /not a valid checkpoint index: (it has \d+ bytes|bad magic)/, file);
      await assertFallsBack(dir);
    }
  });

  it('a truncated data shard: the tensors past the end are reported as truncated', async () => {
    const { dir, latest } = await freshModelDir();
    const data = dataFile(latest, 0, 1);
    await truncate(data, 20);
    await expectCheckpointError(readEverything(latest), /is truncated: variable "net\/b" needs bytes 8..40/, data);
    await assertFallsBack(dir);
  });

  it('a truncated state file or sidecar: the scan still finds the newest valid checkpoint; the sidecar error is clear', async () => {
    const { dir, latest } = await freshModelDir();
    await truncate(path.join(dir, 'models', STATE_FILE), 5);
    assert.equal((await latestValidCheckpoint(dir))?.iteration, 200);
    await truncate(sidecarFile(latest), 3);
    await expectCheckpointError(readSidecar(latest), /is not valid JSON/, sidecarFile(latest));
  });

  it('a deleted shard: the checkpoint counts as incomplete, reading it names the missing file', async () => {
    const { dir, latest } = await freshModelDir();
    const data = dataFile(latest, 0, 1);
    await unlink(data);
    assert.deepEqual(await listIterations(dir), [100]);
    await expectCheckpointError(readEverything(latest), /data shard .* does not exist/, data);
    await assertFallsBack(dir);
  });

  it('an explicit starting_iter that does not exist lists the iterations that do', async () => {
    const { dir } = await freshModelDir();
    await expectCheckpointError(resolveStartingCheckpoint(dir, 150), /iterations present in .*: 100, 200/, 'model.ckpt-150');
  });

  it('unknown dtypes, unsupported versions, non-checkpoint files and missing prefixes', async () => {
    const prefix = path.join(root, 'handmade', 'odd');
    await cp(path.join(pristine, 'models'), path.join(root, 'handmade'), { recursive: true });
    const entry = (dtype: number) => BundleEntryProto.encode(BundleEntryProto.fromObject({ dtype, shape: {} })).finish();
    for (const [dtype, words] of [[21, /DT_VARIANT/], [99, /DataType 99/]] as const) {
      await writeFile(indexFile(prefix), buildTable([{ key: new Uint8Array(0), value: encodeHeader(1) }, { key: Buffer.from('v'), value: entry(dtype) }]));
      await expectCheckpointError(CheckpointReader.open(prefix), new RegExp(`variable "v" has dtype ${words.source}`), indexFile(prefix));
    }
    const future = BundleHeaderProto.encode(BundleHeaderProto.fromObject({ numShards: 1, version: { producer: 9, minConsumer: 5 } })).finish();
    await writeFile(indexFile(prefix), buildTable([{ key: new Uint8Array(0), value: future }]));
    await expectCheckpointError(CheckpointReader.open(prefix), /version .* is not supported/, indexFile(prefix));
    await writeFile(indexFile(prefix), buildTable([{ key: Buffer.from('v'), value: encodeEntry({ dtype: 1, shape: [], offset: 0, size: 4, crc32c: 1 }) }]));
    await expectCheckpointError(CheckpointReader.open(prefix), /header entry .* is missing/, indexFile(prefix));
    await writeFile(indexFile(prefix), 'model_checkpoint_path: "not a table, just text that is long enough to have a footer"\n');
    await expectCheckpointError(CheckpointReader.open(prefix), /bad magic number/, indexFile(prefix));
    const missing = path.join(root, 'nowhere', 'model.ckpt-5');
    await expectCheckpointError(listVariables(missing), /does not exist/, missing);
    await expectCheckpointError(CheckpointReader.open(missing), /does not exist/, indexFile(missing));
  });

  it('the CLI prints one clear line (exit 1) and its fix, never a stack trace', async () => {
    const { latest } = await freshModelDir();
    await flipByte(dataFile(latest, 0, 1), (size) => size - 1);
    await flipByte(indexFile(checkpointPrefix(path.dirname(path.dirname(latest)), 100)), () => 20);
    const cli = (...args: string[]) =>
      execFileAsync(process.execPath, ['--import', 'tsx', path.join('app', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT })
        .then(() => assert.fail('expected a failure'), (err: { code: number; stderr: string }) => err);
    for (const args of [
      ['vars', checkpointPrefix(path.dirname(path.dirname(latest)), 100)],
      ['diff', latest, latest],
    ]) {
      const { code, stderr } = await cli(...args);
      assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /^thaw (vars|diff): /);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      const [, ...rest] = stderr.trim().split('\n');
      assert.ok(rest.length === 0 || (rest.length === 1 && /^\s+Fix: /.test(rest[0])), `one line (and its fix): ${stderr}`);
    }
  });
});
