/**
 * The worker's local cache of whole S3 objects (checkpoint data shards), bounded in bytes and evicted least recently
 * used first. Entries are named by a hash of bucket, key, ETag and size, so a replaced object is never served stale.
 * Folder and limit come from the settings (THAW_CACHE_DIR, THAW_CACHE_MAX_BYTES: 0 turns the cache off).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { ThawStorageSettings } from '../settings';

/** A temporary download older than this is an orphan of a killed process. */
const STALE_TEMP_MS = 3600_000;

export class ReadCache {
  constructor(readonly dir: string, readonly maxBytes: number) {}

  static of(settings: Pick<ThawStorageSettings, 'cacheDir' | 'cacheMaxBytes'>): ReadCache {
    return new ReadCache(settings.cacheDir, settings.cacheMaxBytes);
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  private entryPath(identity: string): string {
    return path.join(this.dir, createHash('sha256').update(identity).digest('hex'));
  }

  /** The cached file for `identity` (marked as just used), or null. */
  async lookup(identity: string, size: number): Promise<string | null> {
    if (!this.enabled) return null;
    const file = this.entryPath(identity);
    const s = await stat(file).catch(() => null);
    if (!s || s.size !== size) return null;
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return file;
  }

  /**
   * Stores an object of `size` bytes that `download` writes to the path it is given; returns the cached file, or null
   * when it does not fit the limit. Older entries are evicted first to make room.
   */
  async insert(identity: string, size: number, download: (file: string) => Promise<void>): Promise<string | null> {
    if (!this.enabled || size > this.maxBytes) return null;
    await mkdir(this.dir, { recursive: true });
    await this.evict(this.maxBytes - size);
    const file = this.entryPath(identity);
    const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await download(temp);
      if ((await stat(temp)).size !== size) throw new Error(`cache download of ${identity} is not ${size} bytes`);
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    return file;
  }

  /** Deletes least recently used entries until at most `budget` bytes remain (and stale temporary downloads). */
  async evict(budget: number): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: { file: string; size: number; used: number }[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      const s = await stat(file).catch(() => null);
      if (!s?.isFile()) continue;
      if (name.includes('.tmp-')) {
        if (Date.now() - s.mtimeMs > STALE_TEMP_MS) await unlink(file).catch(() => undefined);
        continue;
      }
      entries.push({ file, size: s.size, used: s.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (total <= budget) break;
      await unlink(e.file).catch(() => undefined);
      total -= e.size;
    }
  }

  /** Bytes held now. */
  async usage(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let total = 0;
    for (const name of names) if (!name.includes('.tmp-')) total += (await stat(path.join(this.dir, name)).catch(() => null))?.size ?? 0;
    return total;
  }
}
