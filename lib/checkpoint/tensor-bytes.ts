/**
 * Tensor payloads as a `.data` shard stores them: numeric types verbatim (row-major, little-endian), strings as
 * varint lengths + a masked CRC of the lengths + the bytes. Also the entry checksum TensorFlow stores for each.
 */
import * as protobuf from 'protobufjs';
import { crc32c, crc32cExtend, maskCrc } from '../util/crc32c';
import { dtypeArray, dtypeBytes, dtypeLanes, numElements, type DType, type Tensor, type TensorData } from './dtypes';

/** Numeric tensor bytes, viewed in place (no copy) on a little-endian host. */
export function numericBytes(data: Exclude<TensorData, Uint8Array[]>): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The four bytes of a masked CRC as stored (little-endian). */
function crcBytes(masked: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, masked, true);
  return b;
}

/** TensorFlow feeds string lengths into the CRC as 4-byte integers (8 bytes beyond 2^32 - 1), not as varints. */
function lengthForCrc(length: number): Uint8Array {
  const wide = length > 0xffffffff;
  const b = new Uint8Array(wide ? 8 : 4);
  const view = new DataView(b.buffer);
  if (wide) view.setBigUint64(0, BigInt(length), true);
  else view.setUint32(0, length, true);
  return b;
}

export interface EncodedTensor {
  /** Pieces to write back to back; their total is `size`. */
  chunks: Uint8Array[];
  size: number;
  /** Masked CRC-32C as stored in the entry. */
  crc32c: number;
}

export function encodeTensorBytes(tensor: Tensor): EncodedTensor {
  if (tensor.dtype !== 'string') {
    const bytes = numericBytes(tensor.data as Exclude<TensorData, Uint8Array[]>);
    return { chunks: [bytes], size: bytes.length, crc32c: maskCrc(crc32c(bytes)) };
  }
  const strings = tensor.data as Uint8Array[];
  const writer = protobuf.Writer.create();
  let crc = 0;
  for (const s of strings) {
    writer.uint64(s.length);
    crc = crc32cExtend(crc, lengthForCrc(s.length));
  }
  const lengths = writer.finish();
  const lengthsCrc = crcBytes(maskCrc(crc));
  crc = crc32cExtend(crc, lengthsCrc);
  let size = lengths.length + 4;
  for (const s of strings) {
    crc = crc32cExtend(crc, s);
    size += s.length;
  }
  return { chunks: [lengths, lengthsCrc, ...strings], size, crc32c: maskCrc(crc) };
}

export class TensorBytesError extends Error {}

/**
 * Decodes payload bytes into tensor data, verifying the stored CRC. `bytes` must start at offset 0 of its own
 * ArrayBuffer (so typed arrays over it are aligned); numeric data is then used without a copy.
 */
export function decodeTensorBytes(
  dtype: DType, shape: number[], bytes: Uint8Array, storedCrc: number, bigEndian: boolean,
): TensorData {
  const count = numElements(shape);
  if (dtype === 'string') return decodeStrings(count, bytes, storedCrc);
  if (maskCrc(crc32c(bytes)) !== storedCrc) throw new TensorBytesError('checksum mismatch');
  const expected = count * dtypeBytes(dtype);
  if (bytes.length !== expected) {
    throw new TensorBytesError(`it holds ${bytes.length} bytes where ${dtype}${JSON.stringify(shape)} needs ${expected}`);
  }
  const width = dtypeBytes(dtype) / dtypeLanes(dtype);
  if (bigEndian && width > 1) swapBytes(bytes, width);
  const Ctor = dtypeArray(dtype)!;
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length / width);
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function decodeStrings(count: number, bytes: Uint8Array, storedCrc: number): Uint8Array[] {
  const reader = protobuf.Reader.create(bytes);
  const lengths: number[] = [];
  let crc = 0;
  try {
    for (let i = 0; i < count; i++) {
      const length = Number(reader.uint64().toString());
      lengths.push(length);
      crc = crc32cExtend(crc, lengthForCrc(length));
    }
  } catch {
    throw new TensorBytesError('its string lengths are truncated');
  }
  let pos = reader.pos;
  if (pos + 4 > bytes.length) throw new TensorBytesError('its string length checksum is missing');
  const lengthsCrc = bytes.subarray(pos, pos + 4);
  if (new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getUint32(0, true) !== maskCrc(crc)) {
    throw new TensorBytesError('checksum mismatch in its string lengths');
  }
  crc = crc32cExtend(crc, lengthsCrc);
  pos += 4;
  const out: Uint8Array[] = [];
  for (const length of lengths) {
    if (pos + length > bytes.length) throw new TensorBytesError('its strings are truncated');
    const s = new Uint8Array(bytes.subarray(pos, pos + length)); // a copy, as a plain Uint8Array
    crc = crc32cExtend(crc, s);
    out.push(s);
    pos += length;
  }
  if (maskCrc(crc) !== storedCrc) throw new TensorBytesError('checksum mismatch');
  return out;
}
