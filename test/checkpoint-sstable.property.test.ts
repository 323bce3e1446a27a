/**
 * Property tests (fast-check): any set of byte keys and values survives the table writer and reader, across block
 * sizes that force many blocks; separator and successor keys stay between their neighbours; any tensor of any dtype
 * survives writeCheckpoint → CheckpointReader bit for bit.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CheckpointReader, DTYPES, numElements, writeCheckpoint, type DType, type Tensor } from '../lib/checkpoint';
import { dtypeArray, dtypeBytes, dtypeLanes } from '../lib/checkpoint/dtypes';
import { buildTable, readTable, shortestSeparator, shortSuccessor } from '../lib/checkpoint/sstable';
import { numericBytes } from '../lib/checkpoint/tensor-bytes';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const compare = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

describe('SSTable and tensor round trips (property tests)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thaw-ckpt-prop-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('buildTable → readTable returns every entry in byte order, for any block size', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(bytes(40), bytes(60)), { selector: ([k]) => Buffer.from(k).toString('hex'), maxLength: 300 }),
      fc.integer({ min: 1, max: 4096 }),
      (pairs, blockSize) => {
        const entries = pairs.map(([key, value]) => ({ key, value })).sort((a, b) => compare(a.key, b.key));
        const read = readTable(buildTable(entries, blockSize), 'property.index');
        assert.deepEqual(read.map((e) => [Buffer.from(e.key, 'latin1').toString('hex'), Buffer.from(e.value).toString('hex')]),
          entries.map((e) => [Buffer.from(e.key).toString('hex'), Buffer.from(e.value).toString('hex')]));
      },
    ), { numRuns: 200 });
  });

  it('index keys: start <= separator(start, limit) < limit and successor(key) >= key', () => {
    fc.assert(fc.property(bytes(12), bytes(12), (x, y) => {
      fc.pre(compare(x, y) !== 0);
      const [start, limit] = compare(x, y) < 0 ? [x, y] : [y, x];
      const sep = shortestSeparator(start, limit);
      assert.ok(compare(start, sep) <= 0 && compare(sep, limit) < 0);
      assert.ok(compare(shortSuccessor(start), start) >= 0);
    }), { numRuns: 500 });
  });

  const tensorArb: fc.Arbitrary<Tensor> = fc.constantFrom(...DTYPES).chain((dtype: DType) =>
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
      const n = numElements(shape);
      if (dtype === 'string') {
        return fc.array(bytes(20), { minLength: n, maxLength: n }).map((data): Tensor => ({ dtype, shape, data }));
      }
      const size = n * dtypeBytes(dtype);
      return fc.uint8Array({ minLength: size, maxLength: size }).map((raw): Tensor => {
        const Ctor = dtypeArray(dtype)!;
        const buffer = new ArrayBuffer(size);
        new Uint8Array(buffer).set(raw);
        return { dtype, shape, data: new Ctor(buffer, 0, (n * dtypeLanes(dtype))) };
      });
    }));

  it('writeCheckpoint → read returns every tensor bit for bit (any dtype, shape, bytes, name)', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((n) => n.charCodeAt(0) !== 0), tensorArb), { selector: ([n]) => n, maxLength: 8 }),
      async (named) => {
        const prefix = path.join(dir, `p${run++}`, 'model.ckpt-1');
        await writeCheckpoint(prefix, new Map(named));
        const reader = await CheckpointReader.open(prefix);
        try {
          const expectedOrder = named.map(([n]) => n).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
          assert.deepEqual(reader.variables().map((v) => v.name), expectedOrder);
          for (const [name, t] of named) {
            const back = await reader.read(name);
            assert.equal(back.dtype, t.dtype);
            assert.deepEqual(back.shape, t.shape);
            if (t.dtype === 'string') assert.deepEqual((back.data as Uint8Array[]).map((s) => Buffer.from(s)), (t.data as Uint8Array[]).map((s) => Buffer.from(s)));
            else assert.deepEqual(Buffer.from(numericBytes(back.data as Float32Array)), Buffer.from(numericBytes(t.data as Float32Array)));
          }
        } finally {
          await reader.close();
        }
      },
    ), { numRuns: 60 });
  });
});
