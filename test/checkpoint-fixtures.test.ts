/**
 * Real TensorFlow-written checkpoints (shared/fixtures/tf-checkpoints): each lists exactly as its expected.json
 * (TensorFlow 2.21's own listing) and every tensor reads with the dtype, shape and values its MANIFEST.md records.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointReader, listVariables, resolveCheckpointTarget, toNumbers, type Tensor } from '../lib/checkpoint';
import { varsCommand } from '../app/cli/commands/vars';
import { readSettings } from '../lib/settings';

const FIXTURES = path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'tf-checkpoints');
const fixtures = existsSync(FIXTURES)
  ? readdirSync(FIXTURES).filter((d) => existsSync(path.join(FIXTURES, d, 'expected.json')))
  : [];

const DTYPE_NAMES: Record<string, string> = { DT_FLOAT: 'float32', DT_INT64: 'int64', DT_INT32: 'int32', DT_BOOL: 'bool', DT_STRING: 'string' };

interface ManifestRow {
  prefix: string;
  name: string;
  dtype: string;
  shape: number[];
  values: string;
}

/** The entry tables of a MANIFEST.md, one per "Decoded contents of prefix `P`" section. */
function manifestRows(fixture: string): ManifestRow[] {
  const rows: ManifestRow[] = [];
  let prefix = '';
  for (const line of readFileSync(path.join(FIXTURES, fixture, 'MANIFEST.md'), 'utf8').split('\n')) {
    const section = /^## Decoded contents of prefix `(.+)`/.exec(line);
    if (section) prefix = section[1];
    const cells = line.split('|').map((c) => c.trim());
    if (!/^\d+$/.test(cells[1] ?? '') || cells.length < 11) continue;
    const dtype = DTYPE_NAMES[cells[3].split(' ')[0]];
    assert.ok(dtype, `${fixture}: unexpected dtype ${cells[3]}`);
    rows.push({ prefix, name: cells[2].replace(/^`|`$/g, ''), dtype, shape: JSON.parse(cells[4]), values: cells[10] });
  }
  return rows;
}

/** Checks values against the MANIFEST's text: the listed (possibly leading) values and the count. */
function assertValues(t: Tensor, text: string, where: string): void {
  if (t.dtype === 'string') {
    const m = /^(\d+) string\(s\); byte length\(s\): ([\d, ]+)$/.exec(text);
    assert.ok(m, `${where}: ${text}`);
    assert.deepEqual((t.data as Uint8Array[]).map((s) => s.length), m[2].split(',').map(Number), where);
    return;
  }
  const m = /^\[(.*?)(?:, … \((\d+) values\))?\]$/.exec(text);
  assert.ok(m, `${where}: ${text}`);
  const listed = m[1].split(', ');
  const count = m[2] ? Number(m[2]) : listed.length;
  assert.equal(t.data.length, count, `${where}: element count`);
  listed.forEach((v, i) => {
    if (t.dtype === 'int64') assert.equal((t.data as BigInt64Array)[i], BigInt(v), where);
    else if (t.dtype === 'bool') assert.equal((t.data as Uint8Array)[i], v === 'true' ? 1 : 0, where);
    else if (t.dtype === 'float32') assert.equal((t.data as Float32Array)[i], Math.fround(Number(v)), `${where}[${i}]`);
    else assert.equal(toNumbers(t)[i], Number(v), where);
  });
}

describe('TensorFlow-written fixtures', () => {
  it('the fixtures are present', () => assert.ok(fixtures.length >= 12, `fixtures in ${FIXTURES}`));

  for (const fixture of fixtures) {
    const dir = path.join(FIXTURES, fixture);
    const expectedText = () => readFileSync(path.join(dir, 'expected.json'), 'utf8');

    it(`${fixture}: lists exactly as expected.json (library and thaw vars --json --output)`, async () => {
      assert.deepEqual(await listVariables(dir), JSON.parse(expectedText()));
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'thaw-vars-'));
      try {
        const out = path.join(tmp, 'vars.json');
        assert.equal(await varsCommand.run([dir, '--json', '--output', out], readSettings()), 0);
        assert.equal(await readFile(out, 'utf8'), expectedText());
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });

    it(`${fixture}: every tensor reads (checksums verified) with the MANIFEST's dtype, shape and values`, async () => {
      const rows = manifestRows(fixture);
      assert.ok(rows.length > 0);
      const prefixes = [...new Set(rows.map((r) => r.prefix))];
      for (const prefix of prefixes) {
        const reader = await CheckpointReader.open(path.join(dir, prefix));
        try {
          const ours = rows.filter((r) => r.prefix === prefix);
          assert.deepEqual(reader.variables().map((v) => v.name), ours.map((r) => r.name));
          for (const row of ours) {
            const t = await reader.read(row.name);
            assert.equal(t.dtype, row.dtype, row.name);
            assert.deepEqual(t.shape, row.shape, row.name);
            assertValues(t, row.values, `${fixture}/${prefix}: ${row.name}`);
          }
        } finally {
          await reader.close();
        }
      }
    });
  }

  it('a folder resolves through its state file, also when the prefix is literally "checkpoint"', async () => {
    assert.equal(await resolveCheckpointTarget(path.join(FIXTURES, 'tf1-estimator-ftrl-adagrad')),
      path.join(FIXTURES, 'tf1-estimator-ftrl-adagrad', 'model.ckpt-1000'));
    const keras = path.join(FIXTURES, 'tf2-keras-save-weights-checkpoint-prefix');
    assert.equal(await resolveCheckpointTarget(keras), path.join(keras, 'checkpoint'));
    assert.equal(await resolveCheckpointTarget(path.join(keras, 'checkpoint')), path.join(keras, 'checkpoint'));
    assert.equal(await resolveCheckpointTarget(path.join(keras, 'checkpoint.index')), path.join(keras, 'checkpoint'));
  });
});
