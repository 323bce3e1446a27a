/**
 * The `.index` container: a LevelDB-style table (TensorFlow's trimmed copy in tensorflow/core/lib/io): data blocks
 * of prefix-compressed key/value entries with restart points, an empty metaindex block, an index block pointing at
 * the data blocks, and a 48-byte footer ending in the table magic. Every block carries a type byte (none / Snappy)
 * and a masked CRC-32C. Varints are decoded with protobufjs's Reader (the same wire encoding).
 */
import * as protobuf from 'protobufjs';
import { uncompress as snappyUncompress } from 'snappyjs';
import { crc32c, crc32cExtend, maskCrc } from '../util/crc32c';
import { CheckpointError } from './errors';

export const TABLE_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
export const FOOTER_SIZE = 48;
const TRAILER_SIZE = 5;
const NO_COMPRESSION = 0;
const SNAPPY_COMPRESSION = 1;
/** TensorFlow's table options: 256 KiB blocks, a restart point every 16 entries (every entry in the index block). */
export const BLOCK_SIZE = 262144;
const DATA_RESTART_INTERVAL = 16;

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** An entry as read: the key as a latin1 string (one char per byte, so `<` is byte order; cheap to build and hash). */
export interface ReadEntry {
  key: string;
  value: Uint8Array;
}

export interface BlockHandle {
  offset: number;
  size: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** Reads every entry of a table held in memory, in key order, verifying every block. `file` names it in errors. */
export function readTable(bytes: Uint8Array, file: string): ReadEntry[] {
  const fail = (what: string) => new CheckpointError(`${file} is not a valid checkpoint index: ${what}`, { file });
  if (bytes.length < FOOTER_SIZE) {
    throw fail(`it has ${bytes.length} bytes, fewer than the 48-byte table footer (truncated or not a checkpoint)`);
  }
  for (let i = 0; i < 8; i++) {
    if (bytes[bytes.length - 8 + i] !== TABLE_MAGIC[i]) {
      throw fail('bad magic number at the end of the file (truncated, or not a TensorFlow .index file)');
    }
  }
  const footer = protobuf.Reader.create(bytes.subarray(bytes.length - FOOTER_SIZE, bytes.length - 8));
  let indexHandle: BlockHandle;
  try {
    decodeHandle(footer); // metaindex: always empty, TensorFlow never reads it either
    indexHandle = decodeHandle(footer);
  } catch {
    throw fail('the footer does not hold valid block handles');
  }
  const limit = bytes.length - FOOTER_SIZE;
  const indexBlock = readBlock(bytes, indexHandle, limit, 'index block', fail);
  const entries: ReadEntry[] = [];
  for (const { key, value } of parseBlock(indexBlock, 'index block', fail)) {
    let handle: BlockHandle;
    try {
      handle = decodeHandle(protobuf.Reader.create(value));
    } catch {
      throw fail(`index entry ${JSON.stringify(key)} is not a block handle`);
    }
    const block = readBlock(bytes, handle, limit, `data block at offset ${handle.offset}`, fail);
    for (const entry of parseBlock(block, `data block at offset ${handle.offset}`, fail)) entries.push(entry);
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i - 1].key >= entries[i].key) throw fail('keys are not in increasing order');
  }
  return entries;
}

function decodeHandle(reader: protobuf.Reader): BlockHandle {
  const offset = Number(reader.uint64().toString());
  const size = Number(reader.uint64().toString());
  return { offset, size };
}

function readBlock(
  bytes: Uint8Array, handle: BlockHandle, limit: number, what: string, fail: (what: string) => CheckpointError,
): Uint8Array {
  const end = handle.offset + handle.size;
  if (end + TRAILER_SIZE > limit) throw fail(`${what} lies beyond the end of the file (truncated)`);
  const stored = bytes.subarray(handle.offset, end);
  const type = bytes[end];
  const expected = Buffer.from(bytes.buffer, bytes.byteOffset + end + 1, 4).readUInt32LE(0);
  const actual = maskCrc(crc32cExtend(crc32c(stored), bytes.subarray(end, end + 1)));
  if (actual !== expected) throw fail(`${what} checksum mismatch (the file is corrupt)`);
  if (type === NO_COMPRESSION) return stored;
  if (type === SNAPPY_COMPRESSION) {
    try {
      return snappyUncompress(Buffer.from(stored.buffer, stored.byteOffset, stored.length));
    } catch (err) {
      throw fail(`${what} is not valid Snappy data (${(err as Error).message})`);
    }
  }
  throw fail(`${what} has unknown compression type ${type}`);
}

/** Decodes the entries of one block, rebuilding prefix-compressed keys and checking the restart array. */
export function parseBlock(block: Uint8Array, what: string, fail: (what: string) => CheckpointError): ReadEntry[] {
  if (block.length < 4) throw fail(`${what} is too short`);
  const buf = Buffer.from(block.buffer, block.byteOffset, block.length);
  const numRestarts = buf.readUInt32LE(block.length - 4);
  if (numRestarts === 0 || numRestarts > (block.length - 4) / 4) throw fail(`${what} has a bad restart array`);
  const restartStart = block.length - 4 * (numRestarts + 1);
  const reader = protobuf.Reader.create(buf.subarray(0, restartStart));
  const entries: ReadEntry[] = [];
  let prev = '';
  let nextRestart = 0;
  let restartAt = buf.readUInt32LE(restartStart);
  try {
    while (reader.pos < restartStart) {
      const at = reader.pos;
      const shared = reader.uint32();
      const nonShared = reader.uint32();
      const valueLength = reader.uint32();
      const keyEnd = reader.pos + nonShared;
      if (shared > prev.length || keyEnd + valueLength > restartStart) throw new RangeError('entry out of bounds');
      if (at === restartAt) {
        if (shared !== 0) throw fail(`${what} has a restart point inside a shared key`);
        restartAt = ++nextRestart < numRestarts ? buf.readUInt32LE(restartStart + 4 * nextRestart) : -1;
      }
      const key = (shared === 0 ? '' : prev.slice(0, shared)) + buf.toString('latin1', reader.pos, keyEnd);
      entries.push({ key, value: buf.subarray(keyEnd, keyEnd + valueLength) });
      reader.pos = keyEnd + valueLength;
      prev = key;
    }
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw fail(`${what} has a malformed entry`);
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** Appends varints, fixed32s and raw bytes into chunks; `finish()` joins them. */
class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;

  varint(value: number): this {
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return this.bytes(Uint8Array.from(out));
  }

  fixed32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.bytes(b);
  }

  bytes(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

class BlockBuilder {
  private sink = new ByteSink();
  private restarts: number[] = [0];
  private counter = 0;
  private lastKey: Uint8Array = new Uint8Array(0);
  entries = 0;

  constructor(private readonly restartInterval: number) {}

  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.restartInterval) {
      const max = Math.min(this.lastKey.length, key.length);
      while (shared < max && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.sink.length);
      this.counter = 0;
    }
    this.sink.varint(shared).varint(key.length - shared).varint(value.length);
    this.sink.bytes(key.subarray(shared)).bytes(value);
    this.lastKey = key;
    this.counter++;
    this.entries++;
  }

  /** Size of the block if finished now (entries + restart array). */
  sizeEstimate(): number {
    return this.sink.length + 4 * this.restarts.length + 4;
  }

  finish(): Buffer {
    for (const r of this.restarts) this.sink.fixed32(r);
    this.sink.fixed32(this.restarts.length);
    return this.sink.finish();
  }
}

/** LevelDB's bytewise FindShortestSeparator: a short key k with start <= k < limit. */
export function shortestSeparator(start: Uint8Array, limit: Uint8Array): Uint8Array {
  const min = Math.min(start.length, limit.length);
  let i = 0;
  while (i < min && start[i] === limit[i]) i++;
  if (i < min && start[i] < 0xff && start[i] + 1 < limit[i]) {
    const k = start.slice(0, i + 1);
    k[i]++;
    return k;
  }
  return start;
}

/** LevelDB's bytewise FindShortSuccessor: a short key k >= key. */
export function shortSuccessor(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== 0xff) {
      const k = key.slice(0, i + 1);
      k[i]++;
      return k;
    }
  }
  return key;
}

function encodeHandle(h: BlockHandle): Buffer {
  return new ByteSink().varint(h.offset).varint(h.size).finish();
}

/**
 * Builds a whole table from entries whose keys are strictly increasing (bytewise), as TensorFlow's TableBuilder does
 * for a bundle: uncompressed blocks, 256 KiB data blocks, restart interval 16, separator keys in the index block.
 */
export function buildTable(entries: Iterable<TableEntry>, blockSize = BLOCK_SIZE): Buffer {
  const out = new ByteSink();
  const index = new BlockBuilder(1);
  let block = new BlockBuilder(DATA_RESTART_INTERVAL);
  let lastKey: Uint8Array | null = null;
  let pending: BlockHandle | null = null;

  const writeBlock = (contents: Buffer): BlockHandle => {
    const handle = { offset: out.length, size: contents.length };
    const type = Uint8Array.of(NO_COMPRESSION);
    out.bytes(contents).bytes(type).fixed32(maskCrc(crc32cExtend(crc32c(contents), type)));
    return handle;
  };

  for (const { key, value } of entries) {
    if (lastKey && Buffer.compare(lastKey, key) >= 0) {
      throw new Error(`table keys must be strictly increasing: ${Buffer.from(key).toString('latin1')}`);
    }
    if (pending && lastKey) {
      index.add(shortestSeparator(lastKey, key), encodeHandle(pending));
      pending = null;
    }
    block.add(key, value);
    lastKey = key;
    if (block.sizeEstimate() >= blockSize) {
      pending = writeBlock(block.finish());
      block = new BlockBuilder(DATA_RESTART_INTERVAL);
    }
  }
  if (block.entries > 0) pending = writeBlock(block.finish());
  if (pending && lastKey) index.add(shortSuccessor(lastKey), encodeHandle(pending));
  const metaHandle = writeBlock(new BlockBuilder(DATA_RESTART_INTERVAL).finish());
  const indexHandle = writeBlock(index.finish());
  const footer = new Uint8Array(FOOTER_SIZE);
  const handles = Buffer.concat([encodeHandle(metaHandle), encodeHandle(indexHandle)]);
  footer.set(handles);
  footer.set(TABLE_MAGIC, FOOTER_SIZE - 8);
  return out.bytes(footer).finish();
}
