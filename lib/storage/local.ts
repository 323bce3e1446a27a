/** Storage on the local filesystem: temp + fsync + rename, positioned reads on a file handle. */
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { fsyncDir, removeIfPresent, writeFileAtomic, writeTemp } from '../checkpoint/atomic-files';
import type { ReadSource, StagedFile, Storage } from './types';

/** Reads exactly `size` bytes at `position` into a fresh buffer (its own ArrayBuffer, so typed arrays over it are aligned). */
async function readExactly(fh: FileHandle, position: number, size: number): Promise<Uint8Array | null> {
  const out = Buffer.allocUnsafeSlow(size); // own ArrayBuffer at offset 0, not zero-filled (every byte is read)
  let done = 0;
  while (done < size) {
    const { bytesRead } = await fh.read(out, done, Math.min(size - done, 1 << 30), position + done);
    if (bytesRead === 0) return null;
    done += bytesRead;
  }
  return out;
}

export async function openLocalSource(file: string): Promise<ReadSource> {
  const fh = await open(file, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  return {
    size,
    read: (position, length) => readExactly(fh, position, length),
    willReadAll: async () => undefined,
    close: () => fh.close(),
  };
}

export class LocalStorage implements Storage {
  readonly description = 'local disk';
  readonly stagedFilesAreVisible = false;

  async list(dir: string): Promise<string[]> {
    return readdir(dir).catch(() => []);
  }

  async isDir(dir: string): Promise<boolean> {
    return (await stat(dir).catch(() => null))?.isDirectory() ?? false;
  }

  async stat(file: string): Promise<{ size: number } | null> {
    const s = await stat(file).catch(() => null);
    return s?.isFile() ? { size: s.size } : null;
  }

  readFile(file: string): Promise<Buffer> {
    return readFile(file);
  }

  open(file: string): Promise<ReadSource> {
    return openLocalSource(file);
  }

  async stage(file: string, fill: Parameters<Storage['stage']>[1]): Promise<StagedFile> {
    const temp = await writeTemp(file, fill);
    return {
      location: file,
      publish: () => rename(temp, file),
      discard: () => unlink(temp).catch(() => undefined),
    };
  }

  writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(file, bytes);
  }

  remove(file: string): Promise<void> {
    return removeIfPresent(file);
  }

  async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  syncDir(dir: string): Promise<void> {
    return fsyncDir(dir);
  }

  async check(): Promise<void> {
    // Local folders are created on first save; their errors name the file when they happen.
  }
}
