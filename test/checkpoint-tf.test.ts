/**
 * Interop with real TensorFlow (Python, .venv): TensorFlow writes checkpoints (TF1 Saver with Adam slots, partitioned
 * variables and a state file; TF2 object-based; every dtype; 10,000 variables) and thaw must read exactly what
 * TensorFlow reads; thaw writes checkpoints and TensorFlow must read them bit for bit, including restoring through
 * thaw's `.meta` with import_meta_graph. Two Python processes in all (TensorFlow's import costs seconds).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CheckpointReader, listIterations, listVariables, resolveStartingCheckpoint, saveCheckpoint, writeCheckpoint,
  type Tensor, type VariableInfo,
} from '../lib/checkpoint';
import { BLOCK_SIZE } from '../lib/checkpoint/sstable';
import { numericBytes } from '../lib/checkpoint/tensor-bytes';
import { runPython } from './helpers/python';

interface Dump {
  variables: VariableInfo[];
  values: Record<string, string | string[]>;
}

function hexOf(t: Tensor): string | string[] {
  if (t.dtype === 'string') return (t.data as Uint8Array[]).map((s) => Buffer.from(s).toString('hex'));
  return Buffer.from(numericBytes(t.data as Float32Array)).toString('hex');
}

async function readAll(prefix: string): Promise<Map<string, Tensor>> {
  const reader = await CheckpointReader.open(prefix);
  try {
    const out = new Map<string, Tensor>();
    for await (const [name, t] of reader.readAll()) out.set(name, t);
    return out;
  } finally {
    await reader.close();
  }
}

async function dumpWithThaw(prefix: string): Promise<Dump> {
  const tensors = await readAll(prefix);
  const values: Dump['values'] = {};
  for (const [name, t] of tensors) values[name] = hexOf(t);
  return { variables: await listVariables(prefix), values };
}

describe('checkpoints and real TensorFlow', () => {
  let dir: string;
  let tfWritten: Record<string, Dump> & { _latest: { tf1: string } };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-tf-'));
    tfWritten = JSON.parse(await runPython('ckpt_tf_write.py', [dir]));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const tfPrefixes = () => Object.keys(tfWritten).filter((k) => !k.startsWith('_'));

  it('reads every TensorFlow-written checkpoint exactly as TensorFlow does (names, dtypes, shapes, bytes)', async () => {
    assert.equal(tfPrefixes().length, 5);
    for (const prefix of tfPrefixes()) {
      const ours = await dumpWithThaw(prefix);
      assert.deepEqual(ours.variables, tfWritten[prefix].variables, prefix);
      assert.deepEqual(ours.values, tfWritten[prefix].values, prefix);
    }
  });

  it('covers Adam slots, partitioned variables, TF2 object names, every dtype and a multi-block index', async () => {
    const names = (p: string) => tfWritten[p].variables.map((v) => v.name);
    const tf1 = path.join(dir, 'tf1', 'models', 'model.ckpt-2');
    for (const n of ['net/conv_1/w/Adam', 'net/conv_1/w/Adam_1', 'beta1_power', 'global_step']) assert.ok(names(tf1).includes(n), n);
    const partitioned = tfWritten[tf1].variables.filter((v) => v.name.startsWith('net/part_'));
    assert.deepEqual(partitioned.map((v) => [v.name, v.shape]), [
      ['net/part_cols', [2, 7]], ['net/part_cols/Adam', [2, 7]], ['net/part_cols/Adam_1', [2, 7]],
      ['net/part_rows', [10, 3]], ['net/part_rows/Adam', [10, 3]], ['net/part_rows/Adam_1', [10, 3]],
    ]);
    const tf2 = tfPrefixes().find((p) => p.includes(`${path.sep}tf2${path.sep}`))!;
    assert.ok(names(tf2).includes('_CHECKPOINTABLE_OBJECT_GRAPH'));
    assert.ok(names(tf2).includes('block/kernel/.ATTRIBUTES/VARIABLE_VALUE'));
    const dtypes = new Set(tfWritten[path.join(dir, 'dtypes', 'all')].variables.map((v) => v.dtype));
    assert.equal(dtypes.size, 16);
    assert.ok((await stat(path.join(dir, 'many', 'many.index'))).size > BLOCK_SIZE, 'index spans more than one block');
  });

  it('finds the TF1 Saver checkpoints of a model_dir through its state file', async () => {
    const modelDir = path.join(dir, 'tf1');
    assert.deepEqual(await listIterations(modelDir), [1, 2]);
    const latest = await resolveStartingCheckpoint(modelDir, -1);
    assert.equal(latest?.prefix, tfWritten._latest.tf1);
    assert.equal(latest?.iteration, 2);
  });

  it('writes checkpoints TensorFlow reads bit for bit, with a .meta that import_meta_graph restores', async () => {
    const copies: string[] = [];
    for (const prefix of tfPrefixes()) {
      const copy = path.join(dir, 'copies', path.basename(path.dirname(prefix)), path.basename(prefix));
      await writeCheckpoint(copy, await readAll(prefix), { meta: prefix.endsWith('model.ckpt-2') || prefix.includes(`${path.sep}tf2${path.sep}`) });
      copies.push(copy);
    }
    const modelDir = path.join(dir, 'thaw-run');
    const trained: Map<string, Tensor> = new Map([
      ['net/conv_1/w', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, Math.PI, -0, 1e-40]) }],
      ['net/conv_1/w/Adam', { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) }],
      ['net/bn/moving_mean', { dtype: 'float64', shape: [3], data: Float64Array.from([0.1, 0.2, 0.3]) }],
      ['net/half', { dtype: 'float16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) }],
      ['net/mask', { dtype: 'bool', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) }],
      ['net/count', { dtype: 'int32', shape: [], data: Int32Array.from([-5]) }],
      ['net/label', { dtype: 'string', shape: [2], data: [Buffer.from('a\u00e9'), Buffer.from([0, 255, 1])] }],
      ['global_step', { dtype: 'int64', shape: [], data: BigInt64Array.from([300n]) }],
    ]);
    await saveCheckpoint(modelDir, 100, trained);
    const last = await saveCheckpoint(modelDir, 300, trained, { sidecar: { stage: 'x' } });
    const tf2Copy = copies.find((c) => c.includes(`${path.sep}tf2${path.sep}`))!;
    const metaPrefixes = [last, copies.find((c) => c.endsWith('model.ckpt-2'))!, tf2Copy];

    const spec = path.join(dir, 'spec.json');
    await writeFile(spec, JSON.stringify({ prefixes: [...copies, last], meta: metaPrefixes, latest: [path.join(modelDir, 'models')] }));
    const seen = JSON.parse(await runPython('ckpt_tf_read.py', [spec])) as {
      dumps: Record<string, Dump>;
      meta: Record<string, { variables: string[]; trainable: string[]; values: Record<string, string | string[]> }>;
      latest: Record<string, string>;
    };
    for (const [i, copy] of copies.entries()) {
      assert.deepEqual(seen.dumps[copy], tfWritten[tfPrefixes()[i]], `TensorFlow reads thaw's copy ${copy} as the original`);
    }
    assert.deepEqual(seen.dumps[last], await dumpWithThaw(last));
    assert.equal(seen.latest[path.join(modelDir, 'models')], last, "tf.train.latest_checkpoint follows thaw's state file");
    for (const prefix of metaPrefixes) {
      const restored = seen.meta[prefix];
      const ours = await dumpWithThaw(prefix);
      // Names that are not valid graph op names (TF2's object graph key) stay out of the .meta graph.
      if (prefix === tf2Copy) {
        ours.variables = ours.variables.filter((v) => v.name !== '_CHECKPOINTABLE_OBJECT_GRAPH');
        delete ours.values._CHECKPOINTABLE_OBJECT_GRAPH;
      }
      assert.deepEqual(restored.variables, ours.variables.map((v) => v.name).sort());
      assert.deepEqual(restored.values, ours.values, `values restored through ${prefix}.meta`);
    }
    assert.deepEqual(seen.meta[last].trainable, ['net/bn/moving_mean', 'net/conv_1/w', 'net/half']);
  });
});
