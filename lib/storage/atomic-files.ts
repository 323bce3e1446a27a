/**
 * Crash-safe file writing: content goes to a temporary name in the same folder, is fsynced, and only then renamed
 * over the final name; the folder is fsynced after renames so they survive a power cut.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
// Its errors say what happened to the file in words, as the checkpoint module reports them.
import { fileError } from '../checkpoint/errors';

export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Sequential writer that batches small pieces into one write (thousands of small tensors would be syscall-bound). */
export class BufferedWriter {
  private buffer = Buffer.allocUnsafe(4 << 20);
  private used = 0;
  bytesWritten = 0;

  constructor(private readonly fh: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.bytesWritten += bytes.length;
    if (this.used + bytes.length <= this.buffer.length) {
      this.buffer.set(bytes, this.used);
      this.used += bytes.length;
      return;
    }
    await this.flush();
    if (bytes.length < this.buffer.length / 2) {
      this.buffer.set(bytes, 0);
      this.used = bytes.length;
    } else {
      await writeAll(this.fh, bytes);
    }
  }

  async flush(): Promise<void> {
    if (this.used > 0) await writeAll(this.fh, this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, 1 << 30));
    done += bytesWritten;
  }
}

/** Writes a temporary file with `fill`, fsyncs and closes it; returns the temporary name (rename it yourself). */
export async function writeTemp(file: string, fill: (w: BufferedWriter) => Promise<void>): Promise<string> {
  const temp = tempName(file);
  let fh: FileHandle;
  try {
    fh = await open(temp, 'wx');
  } catch (err) {
    throw fileError(err, temp, 'temporary checkpoint file');
  }
  try {
    const w = new BufferedWriter(fh);
    await fill(w);
    await w.flush();
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code) throw fileError(err, file, 'checkpoint file');
    throw err;
  }
  await fh.close();
  return temp;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the renames are still atomic.
  } finally {
    await fh.close();
  }
}

/** Writes `bytes` to `file` atomically (temp + fsync + rename + folder fsync). */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temp = await writeTemp(file, (w) => w.write(bytes));
  await rename(temp, file);
  await fsyncDir(path.dirname(file));
}

export async function removeIfPresent(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw fileError(err, file, 'checkpoint file');
  });
}
