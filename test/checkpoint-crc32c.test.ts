/**
 * CRC-32C as checkpoints store it: reference values, TensorFlow's masking, and agreement of the native path (large
 * inputs) with the table path (small inputs) through crc32cExtend over arbitrary splits and unaligned offsets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from '../lib/util/crc32c';

describe('crc32c', () => {
  it('matches the reference values and TensorFlow masks', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(4)), 0x48674bc7);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(maskCrc(0), 0xa282ead8);
    assert.equal(maskCrc(crc32c(new Uint8Array(4))), 0x3a117ba6);
    assert.equal(maskCrc(crc32c(Uint8Array.of(0, 0, 0, 0x3f))), 0x1f273806);
    // 1 MiB of a pattern: the native path; the same bytes fed one at a time: the table path.
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 131) & 0xff);
    let bytewise = 0;
    for (let i = 0; i < big.length; i += 4096) for (let j = i; j < i + 4096; j++) bytewise = crc32cExtend(bytewise, big.subarray(j, j + 1));
    assert.equal(crc32c(big), bytewise);
  });

  it('extend over any split equals the CRC of the whole, at any offset; unmask inverts mask', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat({ max: 7 }), (bytes, cut, shift) => {
      const padded = new Uint8Array(bytes.length + shift);
      padded.set(bytes, shift);
      const view = padded.subarray(shift);
      const at = bytes.length ? cut % (bytes.length + 1) : 0;
      assert.equal(crc32cExtend(crc32c(view.subarray(0, at)), view.subarray(at)), crc32c(bytes));
      assert.equal(unmaskCrc(maskCrc(crc32c(bytes))), crc32c(bytes));
    }), { numRuns: 300 });
  });
});
