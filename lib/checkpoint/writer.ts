/**
 * Writes a TensorBundle V2 checkpoint TensorFlow reads: one data shard, keys in byte order, TensorFlow's table layout,
 * masked CRCs. Locally every file is written under a temporary name and fsynced; renames put the sidecar, data and
 * `.meta` in place first and the `.index` last, so a checkpoint whose `.index` exists is complete. On S3 the objects
 * are uploaded (sidecar first) and verified (size, ETag) and the `.index` uploaded last, to the same effect.
 */
import { dtypeArray, dtypeEnum, dtypeLanes, isDType, numElements, type Tensor, type VariableInfo } from './dtypes';
import { CheckpointError } from './errors';
import { dirnameOf, resolveLocation, storagesOf, type ByteSink, type StagedFile, type StoragesOption } from '../storage';
import { buildMetaGraph, looksTrainable } from './meta-graph';
import { dataFile, indexFile, metaFile, sidecarFile } from './names';
import { encodeEntry, encodeHeader } from './protos';
import { buildTable, type TableEntry } from './sstable';
import { encodeTensorBytes } from './tensor-bytes';

export interface WriteOptions extends StoragesOption {
  /** Also write `<prefix>.meta`; an object may say which variables go into `trainable_variables`. */
  meta?: boolean | { trainable?: (v: VariableInfo) => boolean };
  /** JSON written to `<prefix>.thaw.json` (stage, iteration, freeze set, optimiser settings, seed, plan hash). */
  sidecar?: unknown;
}

/** Checks that each tensor's data has the array type and length its dtype and shape call for. */
export function validateTensor(name: string, t: Tensor, prefix: string): void {
  const bad = (what: string) =>
    new CheckpointError(`cannot write variable "${name}" to ${prefix}: ${what}`, { file: prefix, field: name });
  if (name.length === 0) throw bad('variable names must not be empty');
  if (name.charCodeAt(0) === 0) throw bad('variable names must not start with a NUL character (reserved for slice keys)');
  if (Buffer.from(name, 'utf8').toString('utf8') !== name) throw bad('the name is not valid Unicode (a lone surrogate)');
  if (!isDType(t.dtype)) throw bad(`unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw bad(`invalid shape ${JSON.stringify(t.shape)}`);
  }
  const expected = numElements(t.shape) * dtypeLanes(t.dtype);
  if (t.dtype === 'string') {
    if (!Array.isArray(t.data) || !t.data.every((s) => s instanceof Uint8Array)) throw bad('string data must be an array of Uint8Array');
  } else {
    const Ctor = dtypeArray(t.dtype)!;
    if (!(t.data instanceof Ctor)) throw bad(`${t.dtype} data must be a ${Ctor.name}`);
  }
  if (t.data.length !== expected) throw bad(`shape ${JSON.stringify(t.shape)} needs ${expected} elements, data has ${t.data.length}`);
}

function sortedByBytes(names: Iterable<string>): { name: string; key: Buffer }[] {
  return [...names].map((name) => ({ name, key: Buffer.from(name, 'utf8') })).sort((a, b) => Buffer.compare(a.key, b.key));
}

export async function writeCheckpoint(prefix: string, tensors: Map<string, Tensor>, options: WriteOptions = {}): Promise<void> {
  const order = sortedByBytes(tensors.keys());
  for (const { name } of order) validateTensor(name, tensors.get(name)!, prefix);
  const storage = storagesOf(options).for(prefix);
  const dir = dirnameOf(resolveLocation(prefix));
  await storage.ensureDir(dir);
  // Where written bytes are visible at once (S3: an upload is the object), a rewritten prefix loses its old .index
  // before anything else, so no reader ever pairs an old index with new data.
  if (storage.stagedFilesAreVisible) await storage.remove(indexFile(prefix));

  const staged: StagedFile[] = [];
  const stage = async (file: string, fill: (w: ByteSink) => Promise<void>) => {
    const s = await storage.stage(file, fill);
    staged.push(s);
    return s;
  };
  const stageBytes = (file: string, bytes: Uint8Array) => stage(file, (w) => w.write(bytes));
  try {
    const entries: TableEntry[] = [{ key: new Uint8Array(0), value: encodeHeader(1) }];
    const parts: StagedFile[] = [];
    // The sidecar goes first (staged and published), so that whatever a crash leaves of this prefix carries it: a
    // later save can then tell its own torn checkpoint (which it may replace) from a foreign one (which it may not).
    if (options.sidecar !== undefined) {
      parts.push(await stageBytes(sidecarFile(prefix), Buffer.from(`${JSON.stringify(options.sidecar, null, 2)}\n`)));
    }
    parts.push(await stage(dataFile(prefix, 0, 1), async (w) => {
      for (const { name, key } of order) {
        const t = tensors.get(name)!;
        const encoded = encodeTensorBytes(t);
        const offset = w.bytesWritten;
        for (const chunk of encoded.chunks) await w.write(chunk);
        entries.push({ key, value: encodeEntry({ dtype: dtypeEnum(t.dtype), shape: t.shape, offset, size: encoded.size, crc32c: encoded.crc32c }) });
      }
    }));
    if (options.meta) {
      const infos: VariableInfo[] = order.map(({ name }) => ({ name, dtype: tensors.get(name)!.dtype, shape: tensors.get(name)!.shape }));
      const trainable = typeof options.meta === 'object' && options.meta.trainable ? options.meta.trainable : looksTrainable;
      parts.push(await stageBytes(metaFile(prefix), buildMetaGraph(infos, trainable)));
    }
    const table = buildTable(entries);
    // The .index goes last, so the checkpoint counts as present only once everything else is in place (and, on S3,
    // verified). Locally it is staged first and the old .index removed just before the renames, so a failed write
    // leaves a rewritten prefix as it was.
    let index = storage.stagedFilesAreVisible ? null : await stageBytes(indexFile(prefix), table);
    if (index) await storage.remove(indexFile(prefix));
    for (const part of parts) await part.publish();
    index ??= await stageBytes(indexFile(prefix), table);
    await index.publish();
  } catch (err) {
    await Promise.all(staged.map((s) => s.discard().catch(() => undefined)));
    throw err;
  }
  await storage.syncDir(dir);
}
