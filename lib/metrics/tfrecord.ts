/**
 * TFRecord framing, as TensorFlow's event files use it: for each record
 *   uint64 length (LE) | uint32 masked crc32c(length bytes) | data | uint32 masked crc32c(data)
 */
import { crc32c, maskCrc } from '../util/crc32c';

export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskCrc(crc32c(out.subarray(0, 8))), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskCrc(crc32c(data)), 12 + data.length);
  return out;
}
