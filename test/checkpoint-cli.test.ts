/**
 * `thaw vars` and `thaw diff` run in-process (the dispatcher's error printing is covered by the corruption test's
 * real CLI runs): table with totals, --json, --output, --match in the stages' Python regex dialect, exit codes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { CheckpointError, writeCheckpoint, type Tensor } from '../lib/checkpoint';
import { UsageError } from '../app/cli/command';
import { diffCommand } from '../app/cli/commands/diff';
import { varsCommand } from '../app/cli/commands/vars';
import { readSettings } from '../lib/settings';

const f32 = (shape: number[], fill: number): Tensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  const log = mock.method(console, 'log', () => undefined);
  try {
    const code = await run();
    return { code, out: log.mock.calls.map((c) => c.arguments.join(' ')).join('\n') };
  } finally {
    log.mock.restore();
  }
}

describe('thaw vars / thaw diff', () => {
  let dir: string;
  let a: string;
  let b: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-cli-'));
    a = path.join(dir, 'a', 'model.ckpt-1');
    b = path.join(dir, 'b', 'model.ckpt-1');
    const common: [string, Tensor][] = [
      ['DenseVNet/conv_1/w', f32([3, 3, 1, 16], 0.5)], ['DenseVNet/conv_1/w/Adam', f32([3, 3, 1, 16], 0)],
      ['DenseVNet/fin_conv/w', f32([1, 1, 16, 2], 1)],
      ['global_step', { dtype: 'int64', shape: [], data: BigInt64Array.from([7n]) }],
    ];
    await writeCheckpoint(a, new Map(common));
    await writeCheckpoint(b, new Map([...common, ['DenseVNet/fin_conv/w', f32([1, 1, 16, 2], 1.25)]]));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('prints an aligned table with sizes and a total', async () => {
    const { code, out } = await captured(() => varsCommand.run([a], readSettings()));
    assert.equal(code, 0);
    const lines = out.split('\n');
    assert.match(lines[0], /^name\s+dtype\s+shape\s+elements\s+size$/);
    assert.equal(lines[2], 'DenseVNet/conv_1/w       float32  [3, 3, 1, 16]       144  576 B');
    assert.equal(lines.at(-1), 'total: 4 variables, 321 elements, 1.3 KiB');
  });

  it('--match keeps what a stage regex (Python dialect, search semantics) selects; --json --output writes the listing', async () => {
    const out = path.join(dir, 'vars.json');
    assert.equal(await varsCommand.run([a, '--json', '--output', out, '--match', '^((?!(Adam)).)*$'], readSettings()), 0);
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')).map((v: { name: string }) => v.name),
      ['DenseVNet/conv_1/w', 'DenseVNet/fin_conv/w', 'global_step']);
    const { out: text } = await captured(() => varsCommand.run([path.dirname(a), '--json', '--match', '(?P<layer>fin_conv)'], readSettings()));
    assert.deepEqual(JSON.parse(text), [{ name: 'DenseVNet/fin_conv/w', dtype: 'float32', shape: [1, 1, 16, 2] }]);
    await assert.rejects(varsCommand.run([a, '--match', '(unclosed'], readSettings()), (e: Error) => e.name === 'PatternError' && /--match/.test(e.message));
    await assert.rejects(varsCommand.run([], readSettings()), UsageError);
    await assert.rejects(varsCommand.run([path.join(dir, 'missing')], readSettings()), CheckpointError);
  });

  it('diff: exit 0 when identical, 1 with the differing variables listed; --json carries the report', async () => {
    const same = await captured(() => diffCommand.run([a, a], readSettings()));
    assert.equal(same.code, 0);
    assert.match(same.out, /identical: 4 same, 0 changed/);
    const changed = await captured(() => diffCommand.run([a, b], readSettings()));
    assert.equal(changed.code, 1);
    assert.match(changed.out, /DenseVNet\/fin_conv\/w\s+changed\s+max \|a-b\| = 0\.250000/);
    const json = await captured(() => diffCommand.run([a, b, '--json'], readSettings()));
    assert.equal(json.code, 1);
    const report = JSON.parse(json.out);
    assert.deepEqual(report.counts, { same: 3, changed: 1, onlyA: 0, onlyB: 0, mismatch: 0 });
    await assert.rejects(diffCommand.run([a], readSettings()), UsageError);
  });
});
