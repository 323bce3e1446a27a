/**
 * Storage on the local filesystem: temp + fsync + rename, positioned reads on a file handle. Only regular files are
 * read (symlinks are followed): a FIFO is opened without blocking and refused, and so are devices and folders.
 */
import { constants, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { fsyncDir, removeIfPresent, writeFileAtomic, writeTemp } from './atomic-files';
import { notRegularFile, tooLarge } from './errors';
import type { ReadFileOptions, ReadSource, StagedFile, Storage } from './types';

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

/** What a non-regular file is, in words. */
function kindOf(s: Stats): string {
  return s.isFIFO() ? 'a FIFO (named pipe)' :
    s.isCharacterDevice() ? 'a character device' :
    s.isBlockDevice() ? 'a block device' :
    s.isSocket() ? 'a socket' : 'not a file';
}

/**
 * Opens `file` for reading when it is a regular file (after symlinks), with its size. O_NONBLOCK makes opening a FIFO
 * return at once instead of waiting for a writer (it changes nothing for regular files); fstat on the open handle then
 * decides, so what is checked is what is read.
 */
async function openRegular(file: string, options: ReadFileOptions = {}): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const s = await fh.stat();
    if (s.isDirectory()) throw Object.assign(new Error(`${file} is a directory`), { code: 'EISDIR' });
    if (!s.isFile()) throw notRegularFile(file, kindOf(s));
    if (options.maxBytes !== undefined && s.size > options.maxBytes) throw tooLarge(file, s.size, options.maxBytes);
    return { fh, size: s.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** A regular file's bytes (at most `maxBytes`, else an 'EFBIG' error before any is read). */
export async function readLocalFile(file: string, options: ReadFileOptions = {}): Promise<Buffer> {
  const { fh, size } = await openRegular(file, options);
  try {
    const out = Buffer.allocUnsafeSlow(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(out, done, Math.min(size - done, 1 << 30), done);
      if (bytesRead === 0) break; // shrank meanwhile: what is there
      done += bytesRead;
    }
    return done === size ? out : out.subarray(0, done);
  } finally {
    await fh.close();
  }
}

export async function openLocalSource(file: string): Promise<ReadSource> {
  const { fh, size } = await openRegular(file);
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

  async stat(file: string): Promise<{ size: number; regular: boolean } | null> {
    const s = await stat(file).catch(() => null);
    return s ? { size: s.size, regular: s.isFile() } : null;
  }

  readFile(file: string, options?: ReadFileOptions): Promise<Buffer> {
    return readLocalFile(file, options);
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
