/** A file that metrics are appended to: each write goes straight to the OS (nothing lost when the process is killed). */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export class AppendFile {
  private fd: number | null;

  /** `flags`: 'a' to append to an existing file, 'wx' for a file that must be new. */
  constructor(readonly file: string, flags: 'a' | 'wx') {
    this.fd = openSync(file, flags);
  }

  write(data: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.file} is closed`);
    if (typeof data === 'string') writeSync(this.fd, data);
    else writeSync(this.fd, data);
  }

  /** Makes what was written durable (fsync). */
  flush(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
