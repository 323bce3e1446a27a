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

export interface FramedRecord {
  /** The record's payload. */
  data: Buffer;
  /** The whole framed record (header, payload, CRC), for copying it unchanged. */
  framed: Buffer;
}

/**
 * The records of a TFRecord file, in order, up to the first one that is incomplete or fails its CRCs (a write torn
 * by a crash ends the file there).
 */
export function readRecords(bytes: Buffer): FramedRecord[] {
  const records: FramedRecord[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    if (bytes.readUInt32LE(at + 8) !== maskCrc(crc32c(bytes.subarray(at, at + 8)))) break;
    const length = Number(bytes.readBigUInt64LE(at));
    const end = at + 12 + length + 4;
    if (end > bytes.length) break;
    const data = bytes.subarray(at + 12, at + 12 + length);
    if (bytes.readUInt32LE(at + 12 + length) !== maskCrc(crc32c(data))) break;
    records.push({ data, framed: bytes.subarray(at, end) });
    at = end;
  }
  return records;
}
