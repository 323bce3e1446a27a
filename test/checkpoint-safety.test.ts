/**
 * Checkpoint files that are not what they say, and checkpoints thaw did not write (issue 15):
 * - a data shard, index or state file that is a folder, a FIFO or a symlink to /dev/urandom: `thaw vars`, `thaw diff`
 *   and `thaw check` answer at once with one CheckpointError line naming the file (exit 1; for starting_iter -1 the
 *   checkpoint is passed over and reported), never an internal error, never a wait; a symlink to a regular file is fine;
 * - what is read is capped: the index, state file and sidecar by size, a shard by the ranges its index declares;
 * - an explicit starting_iter N is verified tensor by tensor, as -1 is: every damaged byte of its data is reported;
 * - starting_iter -1 over only corrupt checkpoints is refused; a stage never writes over, nor deletes, a checkpoint
 *   that is not its own (no sidecar, another pipeline's), but replaces its own torn or corrupt one.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { cp, mkdir, mkdtemp, open, readFile, readdir, rename, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CheckpointError, CheckpointReader, checkpointPrefix, dataFile, indexFile, listIterations, listVariables, modelsDir,
  readCheckpointState, readSidecar, resolveStartingCheckpoint, saveCheckpoint, sidecarFile, STATE_FILE, verifyCheckpoint,
  type Tensor,
} from '../lib/checkpoint';
import { writeCheckpointState } from '../lib/checkpoint/state-file';
import { findResumePoint } from '../lib/training/stage-setup';
import { INDEX_MAX_BYTES, SIDECAR_MAX_BYTES, STATE_FILE_MAX_BYTES } from '../lib/checkpoint/limits';
import { getNetwork } from '../lib/training/networks';
import { readSettings } from '../lib/settings';
import { trainInProcess } from '../lib/training/engine/tfjs-trainer';
import type { StageSidecar } from '../lib/training/types';
import { REPO_ROOT } from './helpers/python';
import { stageRequest, TOYNET } from './helpers/training';
import type { CliResult } from './helpers/cli';

/** This test process' settings, as an edge reads them. */
const SETTINGS = readSettings();

const NETWORK = getNetwork(TOYNET.name).variables(TOYNET.params);

/** toynet's variables, every element `fill` (positive, so moving variances are sane). */
function toynet(fill: number): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (const v of NETWORK) {
    tensors.set(v.name, { dtype: 'float32', shape: v.shape, data: new Float32Array(v.shape.reduce((a, b) => a * b, 1)).fill(fill) });
  }
  return tensors;
}

const data = (dir: string, iteration: number) => dataFile(checkpointPrefix(dir, iteration), 0, 1);

async function flipByte(file: string, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at] ^= 0x40;
  await writeFile(file, bytes);
}

/** Every file of a folder with a hash of its bytes (to show nothing was touched). */
async function snapshotFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    out.set(name, createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex').slice(0, 16));
  }
  return out;
}

/** `thaw` command lines in one child process (test/helpers/cli-batch.ts); runs still unanswered at the limit blocked. */
function runCliBatch(runs: string[][], limitMs: number): Promise<{ results: Map<string, CliResult>; blocked: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'helpers', 'cli-batch.ts'), JSON.stringify(runs)], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', () => {
      clearTimeout(timer);
      const results = new Map<string, CliResult>();
      for (const line of out.split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as CliResult & { args: string[] };
        results.set(r.args.join(' '), r);
      }
      resolve({ results, blocked: runs.map((r) => r.join(' ')).filter((k) => !results.has(k)) });
    });
  });
}

const KIND_TEXT = {
  dir: 'is a directory, not a file',
  fifo: 'is a FIFO (named pipe), not a file',
  urandom: 'is a character device, not a file',
} as const;
type Kind = keyof typeof KIND_TEXT;

/** Replaces `file` by a folder, a FIFO or a symlink to /dev/urandom. */
async function replaceBy(file: string, kind: Kind): Promise<void> {
  await unlink(file);
  if (kind === 'dir') await mkdir(file);
  else if (kind === 'fifo') execFileSync('mkfifo', [file]);
  else await symlink('/dev/urandom', file);
}

describe('checkpoint files that are not regular files, and corrupt starting checkpoints', { skip: process.platform === 'win32' }, () => {
  let root: string;
  let pristine: string;
  const variant = async (name: string) => {
    const dir = path.join(root, name);
    await cp(pristine, dir, { recursive: true });
    return dir;
  };
  const pipeline = async (name: string, startingIter: number) => {
    const file = path.join(root, `${name}.yaml`);
    await writeFile(file, [
      `name: ${name}`, `model_dir: ./${name}`, 'network: {name: toynet, params: {hidden_features: 4}}',
      'data: {kind: synthetic, task: B, spatial_size: [8, 8]}', `starting_iter: ${startingIter}`,
      'stages:', '  - name: s', '    iterations: 5', '    vars_to_freeze: []', '',
    ].join('\n'));
    return file;
  };

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-safety-'));
    pristine = path.join(root, 'pristine');
    await saveCheckpoint(pristine, 2, toynet(0.5));
    await saveCheckpoint(pristine, 4, toynet(0.25)); // the state file names 4
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('thaw vars / diff / check on a folder, FIFO or /dev/urandom in place of a file: one line, exit 1 or passed over, never a wait', { timeout: 120_000 }, async () => {
    const files = {
      index: (dir: string) => indexFile(checkpointPrefix(dir, 4)),
      data: (dir: string) => data(dir, 4),
      state: (dir: string) => path.join(modelsDir(dir), STATE_FILE),
    };
    const runs: string[][] = [];
    const expectations: { args: string[]; code: number; text: string[]; absent?: string[] }[] = [];
    const other = await variant('other');
    for (const [what, fileOf] of Object.entries(files)) {
      for (const kind of Object.keys(KIND_TEXT) as Kind[]) {
        const name = `${what}-${kind}`;
        const dir = await variant(name);
        const file = fileOf(dir);
        await replaceBy(file, kind);
        const yaml = await pipeline(name, -1);
        const named = [file, KIND_TEXT[kind]];
        // vars reads only the index (and the state file, to find the latest): a damaged shard does not stop it.
        expectations.push({ args: ['vars', dir], code: what === 'data' ? 0 : 1, text: what === 'data' ? ['total: 18 variables'] : named });
        expectations.push({ args: ['diff', dir, other], code: 1, text: [`thaw diff: ${what === 'state' ? 'checkpoint state file' : 'checkpoint'}`, ...named] });
        expectations.push(what === 'state'
          ? { args: ['check', yaml], code: 1, text: ['NOT runnable', ...named] }
          // -1 passes over model.ckpt-4, says why, and starts from model.ckpt-2.
          : { args: ['check', yaml], code: 0, text: ['model.ckpt-4 is not usable', ...named, 'starting from model.ckpt-2', 'runnable (1 stage, 1 warning)'] });
      }
    }
    // A symlink to a regular file is a file.
    const linked = await variant('data-link');
    await rename(data(linked, 4), path.join(root, 'real-shard'));
    await symlink(path.join(root, 'real-shard'), data(linked, 4));
    expectations.push({ args: ['diff', linked, pristine], code: 0, text: ['identical'] });
    expectations.push({ args: ['check', await pipeline('data-link', -1)], code: 0, text: ['runnable (1 stage, 0 warnings)'] });
    // Every shard a folder: -1 has nothing usable, says which and why, and is refused.
    const allDirs = await variant('all-dir');
    for (const i of [2, 4]) await replaceBy(data(allDirs, i), 'dir');
    expectations.push({
      args: ['check', await pipeline('all-dir', -1)], code: 1,
      text: ['has no usable checkpoint', 'model.ckpt-4 is not usable', 'model.ckpt-2 is not usable', KIND_TEXT.dir, 'starting_iter: 0'],
    });
    // Data loss of old: every checkpoint corrupt and -1 → refused, naming each and why (nothing trains from 0).
    const allCorrupt = await variant('all-corrupt');
    for (const i of [2, 4]) await flipByte(data(allCorrupt, i), 40);
    expectations.push({
      args: ['check', await pipeline('all-corrupt', -1)], code: 1,
      text: ['has no usable checkpoint', 'model.ckpt-4 is not usable', 'model.ckpt-2 is not usable', 'checksum mismatch'],
    });
    // An explicit starting_iter whose data is corrupt: refused before any training; another iteration still runs.
    const corrupt = await variant('n-corrupt');
    await flipByte(data(corrupt, 4), 100);
    expectations.push({ args: ['check', await pipeline('n-corrupt', 4)], code: 1, text: ['starting_iter 4:', data(corrupt, 4), 'checksum mismatch', 'NOT runnable'] });
    await cp(corrupt, path.join(root, 'n-corrupt-2'), { recursive: true });
    expectations.push({ args: ['check', await pipeline('n-corrupt-2', 2)], code: 0, text: ['runnable (1 stage, 0 warnings)'] });
    // FIFOs and /dev/urandom last: where one still blocks, the runs before it have answered (and show what else is wrong).
    const mayBlock = (args: string[]) => Number(/-(fifo|urandom)\b/.test(args.join(' ')));
    for (const e of expectations) runs.push(e.args);
    runs.sort((a, b) => mayBlock(a) - mayBlock(b));

    const { results, blocked } = await runCliBatch(runs, 45_000);
    const failures: string[] = blocked.map((b) => `thaw ${b}: blocked (no answer before the time limit)`);
    for (const e of expectations) {
      const r = results.get(e.args.join(' '));
      if (!r) continue;
      const all = r.stdout + r.stderr;
      const problems = [
        r.code !== e.code ? `exit ${r.code}, not ${e.code}` : '',
        /internal error|\n\s+at /.test(all) ? 'internal error / stack trace' : '',
        ...e.text.filter((t) => !all.includes(t)).map((t) => `does not say "${t}"`),
      ].filter(Boolean);
      if (problems.length) failures.push(`thaw ${e.args.map((a) => (a.startsWith(root) ? path.relative(root, a) : a)).join(' ')}: ${problems.join('; ')}\n${all.slice(0, 600)}`);
    }
    assert.deepEqual(failures, []);
    // The message is one line (its fix on the next, as every user error prints).
    const shardDir = results.get(['diff', path.join(root, 'data-dir'), other].join(' '))!;
    assert.match(shardDir.stderr, /^thaw diff: checkpoint data shard \S+model\.ckpt-4\.data-00000-of-00001 is a directory, not a file\n {2}Fix: .+\n$/);
  });

  it('what is read is capped: an oversized index, state file or sidecar is refused unread', async () => {
    const dir = await variant('caps');
    const prefix = checkpointPrefix(dir, 4);
    const sized = async (file: string, size: number) => {
      await writeFile(file, '');
      await truncate(file, size); // sparse: no disk, and nothing is read
    };
    await sized(indexFile(prefix), INDEX_MAX_BYTES + 1);
    await assert.rejects(listVariables(prefix), (e: Error) =>
      e instanceof CheckpointError && e.message.includes(indexFile(prefix)) && /is \d+ bytes, more than a checkpoint index can be/.test(e.message));
    await sized(path.join(modelsDir(dir), STATE_FILE), STATE_FILE_MAX_BYTES + 1);
    await assert.rejects(readCheckpointState(modelsDir(dir)), (e: Error) =>
      e instanceof CheckpointError && /checkpoint state file .* is \d+ bytes, more than/.test(e.message));
    await sized(sidecarFile(prefix), SIDECAR_MAX_BYTES + 1);
    await assert.rejects(readSidecar(prefix), (e: Error) => e instanceof CheckpointError && /checkpoint sidecar .* is \d+ bytes, more than/.test(e.message));
  });

  it('a sidecar that is a FIFO (the trainer reads sidecars to resume) is refused at once', { timeout: 20_000 }, async () => {
    const dir = await variant('sidecar-fifo');
    const file = sidecarFile(checkpointPrefix(dir, 4));
    execFileSync('mkfifo', [file]);
    let timer: NodeJS.Timeout | undefined;
    const blocked = new Promise<'blocked'>((resolve) => (timer = setTimeout(() => resolve('blocked'), 3000)));
    try {
      const outcome = await Promise.race([readSidecar(checkpointPrefix(dir, 4)).then(() => 'read', (e: Error) => e), blocked]);
      assert.ok(outcome instanceof CheckpointError, `expected a CheckpointError, got ${String(outcome)}`);
      assert.match(outcome.message, /checkpoint sidecar \S+\.thaw\.json is a FIFO \(named pipe\), not a file/);
    } finally {
      clearTimeout(timer);
      // Whatever still waits on the FIFO (the behaviour this guards against) gets a writer and EOF, so the test ends.
      const writer = await open(file, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
      await writer?.close();
    }
  });

  it('starting_iter N verifies every tensor: each damaged byte of its data shard is an error naming the shard', async () => {
    const dir = await variant('every-byte');
    const shard = data(dir, 4);
    const size = (await readFile(shard)).length;
    const passed: number[] = [];
    for (let at = 0; at < size; at++) {
      await flipByte(shard, at);
      try {
        await resolveStartingCheckpoint(dir, 4);
        passed.push(at);
      } catch (err) {
        assert.ok(err instanceof CheckpointError, String(err));
        assert.match(err.message, /^starting_iter 4: .*checksum mismatch \(the checkpoint is corrupt\)$/);
        assert.ok(err.message.includes(shard), err.message);
        assert.equal(err.details.field, 'starting_iter');
        assert.ok(err.details.fix, 'it says what to do');
      }
      await flipByte(shard, at); // back
    }
    assert.deepEqual(passed, [], `${passed.length} of ${size} damaged variants were accepted`);
    assert.equal((await resolveStartingCheckpoint(dir, 4))?.iteration, 4, 'the undamaged checkpoint is accepted');
    // A truncated shard still says so in those words.
    await truncate(shard, size - 3);
    await assert.rejects(resolveStartingCheckpoint(dir, 4), /starting_iter 4: .* is truncated: it holds \d+ bytes but the index .* needs/);
  });
});

describe('a stage never overwrites nor deletes a checkpoint it did not write', () => {
  let root: string;
  let n = 0;
  const fresh = () => path.join(root, `run-${n++}`);
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-owner-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const ownSidecar = (iteration: number, pipelineHash = 'test-hash'): Partial<StageSidecar> => ({ stage: 'train', iteration, pipelineHash });

  it('a stage killed after a checkpoint is complete but before the state file names it resumes from that checkpoint', async () => {
    const dir = fresh();
    const request = stageRequest({ modelDir: dir, end: 10, settings: { save_every_n: 5 } });
    await trainInProcess(request, SETTINGS);
    // As a SIGKILL between the .index rename and the state file's update leaves it: model.ckpt-10 whole, the state file at 5.
    const models = modelsDir(dir);
    const state = (await readCheckpointState(models))!;
    await writeCheckpointState(models, { latest: checkpointPrefix(dir, 5), all: state.all.filter((p) => p !== checkpointPrefix(dir, 10)) });
    assert.equal((await findResumePoint({ ...request, endIteration: 20 }))?.iteration, 10, 'the newest complete checkpoint of the stage');
  });

  it('what starting_iter -1 over corrupt checkpoints used to do (train from 0) now stops at the foreign model.ckpt-2, untouched', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, 2, toynet(0.5)); // e.g. NiftyNet's: no sidecar
    await flipByte(data(dir, 2), 10);
    await assert.rejects(resolveStartingCheckpoint(dir, -1), /has no usable checkpoint/);
    const before = await snapshotFiles(modelsDir(dir));
    await assert.rejects(trainInProcess(stageRequest({ modelDir: dir, end: 2 }), SETTINGS), (e: Error) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /stage "train" of pipeline test-hash would write \S+model\.ckpt-2, but .* already holds model\.ckpt-2\.data-00000-of-00001, model\.ckpt-2\.index, model\.ckpt-2\.meta, which this stage did not write \(there is no thaw sidecar model\.ckpt-2\.thaw\.json/);
      assert.match(e.details.fix ?? '', /move the model\.ckpt-2\.\* files out of/);
      return true;
    });
    assert.deepEqual(await snapshotFiles(modelsDir(dir)), before, 'every file as it was');
  });

  it('another pipeline\'s checkpoint at an iteration the stage writes is refused, naming that pipeline', async () => {
    const dir = fresh();
    await saveCheckpoint(dir, 2, toynet(0.5), { sidecar: ownSidecar(2, 'other-pipeline-hash') });
    const before = await snapshotFiles(modelsDir(dir));
    await assert.rejects(trainInProcess(stageRequest({ modelDir: dir, end: 2 }), SETTINGS),
      /its sidecar says stage "train" of pipeline other-pipeli wrote it\); thaw does not overwrite checkpoints it did not write/);
    assert.deepEqual(await snapshotFiles(modelsDir(dir)), before);
  });

  it('the stage\'s own corrupt or torn checkpoint (same stage, same pipeline: an earlier attempt) is replaced', async () => {
    const corrupt = fresh();
    await saveCheckpoint(corrupt, 2, toynet(0.5), { sidecar: ownSidecar(2) });
    await flipByte(data(corrupt, 2), 10);
    const torn = fresh();
    await saveCheckpoint(torn, 2, toynet(0.5), { sidecar: ownSidecar(2) });
    await unlink(indexFile(checkpointPrefix(torn, 2))); // a crash before the .index was renamed into place
    for (const dir of [corrupt, torn]) {
      const result = await trainInProcess(stageRequest({ modelDir: dir, end: 2 }), SETTINGS);
      assert.equal(result.checkpoint, checkpointPrefix(dir, 2));
      assert.ok(await verifyCheckpoint(result.checkpoint));
      assert.equal(((await readSidecar(result.checkpoint)) as StageSidecar).backend, result.backend, 'the stage\'s own sidecar');
    }
  });

  it('starting from a NiftyNet folder: retention deletes only the stage\'s own checkpoints, and a stop before the first step writes nothing', async () => {
    const dir = fresh();
    for (const i of [10, 20, 30]) await saveCheckpoint(dir, i, toynet(0.5)); // no sidecars: NiftyNet's
    const restoreFrom = checkpointPrefix(dir, 30);
    const request = stageRequest({ modelDir: dir, restoreFrom, start: 30, end: 36, settings: { max_checkpoints: 2, save_every_n: 2 } });
    const foreign = await snapshotFiles(modelsDir(dir));

    const stopped = await trainInProcess(request, SETTINGS, { shouldStop: () => true });
    assert.equal(stopped.stopped, true);
    assert.deepEqual(await snapshotFiles(modelsDir(dir)), foreign, 'model.ckpt-30 (restored from) is not rewritten');

    const result = await trainInProcess(request, SETTINGS);
    assert.equal(result.checkpoint, checkpointPrefix(dir, 36));
    assert.deepEqual(await listIterations(dir), [10, 20, 30, 34, 36], 'max_checkpoints 2 counts and deletes only the stage\'s own');
    const now = await snapshotFiles(modelsDir(dir));
    for (const [name, bytes] of foreign) if (name !== STATE_FILE) assert.equal(now.get(name), bytes, `${name} untouched`);
    const reader = await CheckpointReader.open(result.checkpoint);
    await reader.close();
  });
});
