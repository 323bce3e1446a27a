/**
 * Lazy reader of a TensorBundle V2 checkpoint: `open()` reads and verifies only the `.index`; `read(name)` reads only
 * that tensor's bytes from its shard (positioned reads on cached file handles; ranged GETs on S3) and verifies its checksum.
 */
import { storagesOf, type ReadSource, type Storages, type StoragesOption } from '../storage';
import {
  describeDataTypeEnum, dtypeArray, dtypeFromEnum, dtypeLanes, numElements,
  type DType, type Tensor, type TensorData, type VariableInfo,
} from './dtypes';
import { CheckpointError, fileError } from './errors';
import { INDEX_MAX_BYTES } from './limits';
import { dataFile, indexFile } from './names';
import { decodeEntry, decodeHeader, type DecodedEntry } from './protos';
import { copySliceInto, sliceKey, sliceShape } from './slices';
import { readTable } from './sstable';
import { decodeTensorBytes, TensorBytesError } from './tensor-bytes';

/** Versions this reader understands (TensorFlow's kTensorBundleVersion checks). */
const CONSUMER_VERSION = 1;

/** First line of a Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md). */
const LFS_POINTER_HEADER = 'version https://git-lfs.github.com/spec/v1';
/** LFS pointer files are small (the spec caps them at 1024 bytes); only a shard that small is looked at. */
const LFS_POINTER_MAX_BYTES = 1024;
/** What to do about a damaged or incomplete checkpoint. */
const DAMAGED_FIX = 'copy the checkpoint again (every file of the prefix), or start from another checkpoint';
const LFS_FIX = 'fetch the real file with `git lfs pull` in the repository it came from';

/**
 * The error for a data shard that is a Git LFS pointer (a clone without `git lfs`, or a download of the pointer
 * instead of the file), or null when the bytes are not one.
 */
function lfsPointerError(file: string, head: Uint8Array, size: number, needed: number): CheckpointError | null {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  if (!text.startsWith(LFS_POINTER_HEADER)) return null;
  const realSize = /^size (\d+)$/m.exec(text)?.[1];
  const real = realSize === undefined ? '' : realSize === String(needed) ? ', the size the pointer names' : `; the pointer names ${realSize}`;
  return new CheckpointError(
    `${file} is a Git LFS pointer (a ${size}-byte text file), not the checkpoint data (the index needs ${needed} bytes${real}): ` +
    `${LFS_FIX}, then retry`,
    { file, fix: LFS_FIX },
  );
}

interface Entry extends DecodedEntry {
  name: string;
  type: DType;
}

const latin1 = (key: Uint8Array) => Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
/** A variable name from a latin1 table key: UTF-8 decoded (ASCII names, the usual case, as they are). */
// eslint-disable-next-line no-control-regex
const nameOf = (key: string) => (/^[\x00-\x7f]*$/.test(key) ? key : Buffer.from(key, 'latin1').toString('utf8'));

export class CheckpointReader {
  private readonly shards = new Map<number, Promise<ReadSource>>();

  private constructor(
    private readonly storages: Storages,
    readonly prefix: string,
    private readonly numShards: number,
    private readonly bigEndian: boolean,
    /** Variables in key (byte) order, without slice-piece keys. */
    private readonly entries: Entry[],
    private readonly byName: Map<string, Entry>,
    /** Pieces of partitioned variables, by latin1 of their encoded key. */
    private readonly pieces: Map<string, DecodedEntry>,
    /** Per shard, the bytes the index says it holds at least (the end of its last tensor). */
    private readonly extents: number[],
  ) {}

  static async open(prefix: string, options: StoragesOption = {}): Promise<CheckpointReader> {
    const storages = storagesOf(options);
    const file = indexFile(prefix);
    let bytes: Buffer;
    try {
      bytes = await storages.for(file).readFile(file, { maxBytes: INDEX_MAX_BYTES });
    } catch (err) {
      throw fileError(err, file, 'checkpoint index');
    }
    const table = readTable(bytes, file);
    const bad = (what: string) => new CheckpointError(`${file} is not a valid checkpoint index: ${what}`, { file });
    if (table.length === 0 || table[0].key !== '') throw bad('the bundle header entry (empty key) is missing');
    let header: ReturnType<typeof decodeHeader>;
    try {
      header = decodeHeader(table[0].value);
    } catch {
      throw bad('the bundle header is not a BundleHeaderProto');
    }
    const { producer, minConsumer, badConsumers } = header.version;
    if (producer < 0 || minConsumer > CONSUMER_VERSION || badConsumers.includes(CONSUMER_VERSION)) {
      throw bad(`bundle version ${JSON.stringify(header.version)} is not supported (written by a newer TensorFlow?)`);
    }
    if (header.numShards < 1 && table.length > 1) throw bad(`the header says ${header.numShards} data shards`);

    const entries: Entry[] = [];
    const byName = new Map<string, Entry>();
    const pieces = new Map<string, DecodedEntry>();
    for (let i = 1; i < table.length; i++) {
      const { key, value } = table[i];
      let decoded: DecodedEntry;
      const name = nameOf(key);
      try {
        decoded = decodeEntry(value);
      } catch {
        throw bad(`the entry of "${name}" is not a BundleEntryProto`);
      }
      if (key.charCodeAt(0) === 0) {
        pieces.set(key, decoded);
        continue;
      }
      const type = dtypeFromEnum(decoded.dtype);
      if (!type) {
        throw new CheckpointError(
          `${file}: variable "${name}" has dtype ${describeDataTypeEnum(decoded.dtype)}, which thaw cannot read ` +
          `(supported: float16/32/64, bfloat16, int8-64, uint8-64, bool, complex64/128, string)`, { file, field: name });
      }
      if (decoded.unknownRank || decoded.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw bad(`variable "${name}" has an invalid shape ${JSON.stringify(decoded.shape)}`);
      }
      if (decoded.slices.length === 0 && decoded.shardId >= header.numShards) {
        throw bad(`variable "${name}" is in shard ${decoded.shardId} but the header lists ${header.numShards} shards`);
      }
      const entry = decoded as Entry;
      entry.name = name;
      entry.type = type;
      entries.push(entry);
      byName.set(name, entry);
    }
    const extents = new Array<number>(Math.max(header.numShards, 0)).fill(0);
    for (const e of [...entries.filter((x) => x.slices.length === 0), ...pieces.values()]) {
      if (e.shardId < extents.length) extents[e.shardId] = Math.max(extents[e.shardId], e.offset + e.size);
    }
    return new CheckpointReader(storages, prefix, header.numShards, header.endianness === 1, entries, byName, pieces, extents);
  }

  /** Every variable, sorted by name bytes; partitioned variables appear once with their full shape. */
  variables(): VariableInfo[] {
    return this.entries.map((e) => ({ name: e.name, dtype: e.type, shape: [...e.shape] }));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Reads one tensor (a partitioned one is assembled from its pieces), verifying its checksum. */
  async read(name: string): Promise<Tensor> {
    return (await this.fetch(name))();
  }

  /**
   * Reads tensors in order (all by default): the next one's bytes come from disk while the current one is checked and
   * handed out, so I/O overlaps checksumming and at most two tensors are held at once.
   */
  async *readAll(names?: string[]): AsyncGenerator<[string, Tensor]> {
    if (!names) {
      // Every byte will be read: let remote shards come down whole (into the local cache) instead of per tensor;
      // not a shard longer than the index needs (only the declared ranges are ever read from it).
      names = this.entries.map((e) => e.name);
      for (let id = 0; id < this.numShards; id++) {
        const source = await this.shard(id);
        if (source.size <= this.extents[id]) await source.willReadAll();
      }
    }
    let next = names.length > 0 ? this.fetch(names[0]) : null;
    for (let i = 0; i < names.length; i++) {
      const current = next!;
      next = i + 1 < names.length ? this.fetch(names[i + 1]) : null;
      next?.catch(() => undefined); // reported when awaited; no unhandled rejection if the caller stops early
      yield [names[i], (await current)()];
    }
  }

  /**
   * Checks, without reading any tensor, that every data shard exists and is as long as the index says (a Git LFS
   * pointer or a truncated copy is a CheckpointError naming the file); cheap next to `verifyAll`.
   */
  async checkShards(): Promise<void> {
    for (let id = 0; id < this.numShards; id++) {
      const source = await this.shard(id);
      if (source.size < this.extents[id]) {
        const file = dataFile(this.prefix, id, this.numShards);
        throw new CheckpointError(
          `${file} is truncated: it holds ${source.size} bytes but the index ${indexFile(this.prefix)} needs ${this.extents[id]} ` +
          '(an incomplete copy or a damaged file)',
          { file, fix: DAMAGED_FIX },
        );
      }
    }
  }

  /** Reads and verifies every tensor (memory bounded by the two largest). */
  async verifyAll(): Promise<void> {
    for await (const _ of this.readAll()) {
      // reading is the verification
    }
  }

  /** Does a tensor's I/O; the returned function checks and decodes it. */
  private async fetch(name: string): Promise<() => Tensor> {
    const entry = this.byName.get(name);
    if (!entry) {
      throw new CheckpointError(`checkpoint ${this.prefix} has no variable "${name}"`, {
        file: indexFile(this.prefix), field: name, fix: 'run `thaw vars` on the checkpoint to see the names it holds',
      });
    }
    const shape = [...entry.shape];
    if (entry.slices.length > 0) {
      const data = await this.readSliced(entry);
      return () => ({ dtype: entry.type, shape, data });
    }
    const bytes = await this.fetchPayload(name, entry);
    return () => ({ dtype: entry.type, shape, data: this.decodePayload(name, entry, entry.type, shape, bytes) });
  }

  async close(): Promise<void> {
    const handles = [...this.shards.values()];
    this.shards.clear();
    await Promise.all(handles.map(async (h) => (await h.catch(() => null))?.close()));
  }

  /**
   * The open shard file and its size (a bad offset is then reported without trying to read or allocate it). A shard
   * shorter than the index says that is a Git LFS pointer fails here, for every read, with a message that says so.
   */
  private shard(id: number): Promise<ReadSource> {
    let handle = this.shards.get(id);
    if (!handle) {
      const file = dataFile(this.prefix, id, this.numShards);
      handle = this.storages.for(file).open(file).catch((err) => {
        this.shards.delete(id);
        throw fileError(err, file, 'checkpoint data shard');
      }).then(async (source) => {
        const needed = this.extents[id] ?? 0;
        if (source.size >= needed || source.size > LFS_POINTER_MAX_BYTES || source.size === 0) return source;
        const head = await source.read(0, source.size);
        const lfs = head && lfsPointerError(file, head, source.size, needed);
        if (!lfs) return source;
        await source.close();
        throw lfs;
      });
      this.shards.set(id, handle);
    }
    return handle;
  }

  private async fetchPayload(name: string, entry: DecodedEntry): Promise<Uint8Array> {
    const source = await this.shard(entry.shardId);
    const bytes = entry.offset + entry.size <= source.size ? await source.read(entry.offset, entry.size) : null;
    if (!bytes) {
      const file = dataFile(this.prefix, entry.shardId, this.numShards);
      throw new CheckpointError(
        `${file} is truncated: variable "${name}" needs bytes ${entry.offset}..${entry.offset + entry.size}`,
        { file, field: name, fix: DAMAGED_FIX });
    }
    return bytes;
  }

  private decodePayload(name: string, entry: DecodedEntry, dtype: DType, shape: number[], bytes: Uint8Array): TensorData {
    try {
      return decodeTensorBytes(dtype, shape, bytes, entry.crc32c, this.bigEndian);
    } catch (err) {
      if (!(err instanceof TensorBytesError)) throw err;
      const file = dataFile(this.prefix, entry.shardId, this.numShards);
      throw new CheckpointError(`${file}: variable "${name}": ${err.message} (the checkpoint is corrupt)`, { file, field: name, fix: DAMAGED_FIX });
    }
  }

  private async readSliced(entry: Entry): Promise<TensorData> {
    const Ctor = dtypeArray(entry.type);
    if (!Ctor) throw new CheckpointError(`${indexFile(this.prefix)}: partitioned string variable "${entry.name}" is not supported`);
    const lanes = dtypeLanes(entry.type);
    const whole = new Ctor(numElements(entry.shape) * lanes);
    for (const slice of entry.slices) {
      const piece = this.pieces.get(latin1(sliceKey(entry.name, slice)));
      if (!piece) {
        throw new CheckpointError(`${indexFile(this.prefix)}: a piece of partitioned variable "${entry.name}" is missing`, {
          file: indexFile(this.prefix), field: entry.name,
        });
      }
      const bytes = await this.fetchPayload(entry.name, piece);
      const data = this.decodePayload(entry.name, piece, entry.type, sliceShape(entry.shape, slice), bytes);
      copySliceInto(whole as Float32Array, entry.shape, data as Float32Array, slice, lanes);
    }
    return whole;
  }
}
