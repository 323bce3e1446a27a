/**
 * Storage benchmark: saving and restoring a checkpoint on the local disk and on a real S3 server (SeaweedFS on
 * loopback, started here; scripts/build-seaweedfs.sh builds it), in the same run; and restoring one small tensor from the large checkpoint on S3 (bytes
 * fetched against the tensor's size).
 *
 *   npx tsx bench/storage.ts [--size-mb 1024] [--tensor-mb 16] [--dir DIR]
 *
 * Save: saveCheckpoint (local: temp + fsync + rename; S3: multipart upload with Content-MD5, ETag verification, .index
 * and state object last). Restore: open + read and verify every tensor — S3 with an empty cache (the whole shard comes
 * down once into the local cache), with a warm cache, and with the cache off (one ranged GET per tensor).
 * SeaweedFS on loopback shares this machine's disk and cores with the client: its figures are a floor for a real store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CheckpointReader, checkpointPrefix, saveCheckpoint, type Tensor } from '../lib/checkpoint';
import type { S3Storage, Storages } from '../lib/storage';
import { startSeaweedS3, storagesWith } from '../test/helpers/s3';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    'tensor-mb': { type: 'string', default: '16' },
    dir: { type: 'string' },
  },
});
const sizeMb = Number(values['size-mb']);
const tensorMb = Number(values['tensor-mb']);
const SMALL = 'net/small/bias';

function tensors(): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const elements = (tensorMb << 20) / 4;
  for (let i = 0; i < Math.round(sizeMb / tensorMb); i++) {
    const data = new Float32Array(elements);
    for (let j = 0; j < elements; j += 1024) data[j] = i + j; // not all zeros, cheap to fill
    out.set(`net/layer_${String(i).padStart(3, '0')}/kernel`, { dtype: 'float32', shape: [elements], data });
  }
  out.set(SMALL, { dtype: 'float32', shape: [256], data: new Float32Array(256).fill(0.5) });
  return out;
}

async function timed<T>(run: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const value = await run();
  return [Number(process.hrtime.bigint() - t0) / 1e9, value];
}

async function restoreAll(prefix: string, storages: Storages): Promise<number> {
  const reader = await CheckpointReader.open(prefix, { storages });
  let bytes = 0;
  try {
    for await (const [, t] of reader.readAll()) bytes += (t.data as Float32Array).byteLength;
  } finally {
    await reader.close();
  }
  return bytes;
}

async function main(): Promise<void> {
  const work = values.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'thaw-bench-storage-')));
  const s3 = await startSeaweedS3(['thaw-bench']);
  Object.assign(process.env, s3.env);
  const storages = storagesWith({ cacheDir: path.join(work, 'cache') });
  const rows: string[][] = [];
  const gbps = (seconds: number) => `${(sizeMb / 1024 / seconds).toFixed(2)} GiB/s`;
  try {
    const data = tensors();
    const localDir = path.join(work, 'local');
    const s3Dir = 's3://thaw-bench/run';

    const [localSave] = await timed(() => saveCheckpoint(localDir, 1, data, { storages }));
    rows.push(['save', 'local disk', localSave.toFixed(2), gbps(localSave)]);
    const [s3Save] = await timed(() => saveCheckpoint(s3Dir, 1, data, { storages }));
    rows.push(['save', 'S3 (SeaweedFS)', s3Save.toFixed(2), gbps(s3Save)]);

    const [localRestore] = await timed(() => restoreAll(checkpointPrefix(localDir, 1), storages));
    rows.push(['restore all', 'local disk', localRestore.toFixed(2), gbps(localRestore)]);
    const [coldRestore] = await timed(() => restoreAll(checkpointPrefix(s3Dir, 1), storages));
    rows.push(['restore all', 'S3, empty cache', coldRestore.toFixed(2), gbps(coldRestore)]);
    const [warmRestore] = await timed(() => restoreAll(checkpointPrefix(s3Dir, 1), storages));
    rows.push(['restore all', 'S3, warm cache', warmRestore.toFixed(2), gbps(warmRestore)]);
    const noCache = storagesWith({ cacheMaxBytes: 0 });
    const uncached = noCache.for(s3Dir) as S3Storage;
    const [rangedRestore] = await timed(() => restoreAll(checkpointPrefix(s3Dir, 1), noCache));
    rows.push(['restore all', 'S3, cache off (ranged GETs)', rangedRestore.toFixed(2), gbps(rangedRestore)]);

    // One small tensor from the large checkpoint, nothing cached: the .index, then that tensor's bytes only.
    const before = { ...uncached.traffic };
    const [oneSeconds, one] = await timed(async () => {
      const reader = await CheckpointReader.open(checkpointPrefix(s3Dir, 1), { storages: noCache });
      const afterIndex = uncached.traffic.bytesDownloaded;
      const t = await reader.read(SMALL);
      await reader.close();
      return { indexBytes: afterIndex - before.bytesDownloaded, tensorBytes: uncached.traffic.bytesDownloaded - afterIndex, size: (t.data as Float32Array).byteLength };
    });
    console.log(`checkpoint: ${Math.round(sizeMb / tensorMb)} tensors of ${tensorMb} MiB + one of 1 KiB (${sizeMb} MiB)`);
    console.log('| operation | where | seconds | throughput |\n|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`\nrestore of one tensor (${one.size} bytes) from the ${sizeMb} MiB checkpoint on S3, no cache: ` +
      `${oneSeconds.toFixed(3)} s; fetched ${one.tensorBytes} bytes of tensor data (+ ${one.indexBytes} bytes of .index), ` +
      `${uncached.traffic.getRequests - before.getRequests} GET requests`);
  } finally {
    await s3.stop();
    if (!values.dir) await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
