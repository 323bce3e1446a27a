/**
 * Storage on an S3-compatible object store. Objects are atomic on PUT (a multipart upload appears only when
 * completed), so a file is uploaded straight to its key with Content-MD5 on every request, and publishing it means
 * checking that the stored object has the size and ETag of what was sent. Reads are ranged GETs pinned to the
 * object's ETag; a whole-object read goes through the local cache.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ReadCache } from './cache';
import { tooLarge } from './errors';
import { openLocalSource } from './local';
import { parseS3 } from './location';
import { describeS3, translateS3Error, type S3Settings } from './s3-client';
import type { ByteSink, ReadFileOptions, ReadSource, StagedFile, Storage } from './types';

const PARTS_IN_FLIGHT = 4;

/** What this process has sent and fetched (tests and the benchmark check that one tensor costs its bytes only). */
export interface S3Traffic {
  getRequests: number;
  bytesDownloaded: number;
  putRequests: number;
  bytesUploaded: number;
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();
const unquote = (etag: string | undefined) => (etag ?? '').replace(/"/g, '');

export class S3Storage implements Storage {
  readonly stagedFilesAreVisible = true;
  readonly traffic: S3Traffic = { getRequests: 0, bytesDownloaded: 0, putRequests: 0, bytesUploaded: 0 };

  constructor(
    private readonly client: S3Client,
    private readonly settings: S3Settings,
    /** Where whole objects are kept on this machine (settings: THAW_CACHE_DIR, THAW_CACHE_MAX_BYTES). */
    private readonly cache: ReadCache,
    /** Multipart part size in bytes (settings: THAW_S3_PART_SIZE; S3 needs >= 5 MiB for all but the last part). */
    private readonly partSize: number,
  ) {}

  get description(): string {
    return describeS3(this.settings);
  }

  /** Runs one SDK call on `url`, turning its failures into what they mean. */
  private async call<T>(url: string, run: (bucket: string, key: string) => Promise<T>): Promise<T> {
    const { bucket, key } = parseS3(url);
    try {
      return await run(bucket, key);
    } catch (err) {
      throw translateS3Error(err, url, bucket, this.settings);
    }
  }

  async list(dir: string): Promise<string[]> {
    return this.call(dir, async (Bucket, key) => {
      const Prefix = key ? `${key}/` : '';
      const names: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket, Prefix, Delimiter: '/', ContinuationToken }));
        for (const o of page.Contents ?? []) if (o.Key && o.Key.length > Prefix.length) names.push(o.Key.slice(Prefix.length));
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return names;
    });
  }

  isDir(dir: string): Promise<boolean> {
    return this.call(dir, async (Bucket, key) => {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket, Prefix: key ? `${key}/` : '', MaxKeys: 1 }));
      return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
    });
  }

  private head(file: string): Promise<{ size: number; etag: string }> {
    return this.call(file, async (Bucket, Key) => {
      const h = await this.client.send(new HeadObjectCommand({ Bucket, Key }));
      return { size: h.ContentLength ?? 0, etag: unquote(h.ETag) };
    });
  }

  async stat(file: string): Promise<{ size: number; regular: boolean } | null> {
    try {
      return { size: (await this.head(file)).size, regular: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async readFile(file: string, options: ReadFileOptions = {}): Promise<Buffer> {
    const got = await this.call(file, (Bucket, Key) => this.client.send(new GetObjectCommand({ Bucket, Key })));
    const limit = options.maxBytes;
    if (limit !== undefined && (got.ContentLength ?? 0) > limit) {
      (got.Body as Readable | undefined)?.destroy?.(); // the body is never downloaded
      this.countGet(0);
      throw tooLarge(file, got.ContentLength!, limit);
    }
    const bytes = await this.call(file, async () => Buffer.from(await got.Body!.transformToByteArray()));
    this.countGet(bytes.length);
    if (limit !== undefined && bytes.length > limit) throw tooLarge(file, bytes.length, limit);
    return bytes;
  }

  private countGet(bytes: number): void {
    this.traffic.getRequests++;
    this.traffic.bytesDownloaded += bytes;
  }

  /** `length` bytes at `position` of the object with `etag` (412 if it was replaced meanwhile: never mixed versions). */
  private readRange(file: string, etag: string, position: number, length: number): Promise<Uint8Array> {
    return this.call(file, async (Bucket, Key) => {
      const got = await this.client.send(new GetObjectCommand({
        Bucket, Key, IfMatch: `"${etag}"`, Range: `bytes=${position}-${position + length - 1}`,
      }));
      const body = await got.Body!.transformToByteArray();
      this.countGet(body.length);
      if (body.length !== length) throw new Error(`${file}: ranged read returned ${body.length} bytes, not ${length}`);
      const out = Buffer.allocUnsafeSlow(length); // own ArrayBuffer at offset 0, so typed arrays over it are aligned
      out.set(body);
      return out;
    });
  }

  private download(file: string, etag: string, target: string): Promise<void> {
    return this.call(file, async (Bucket, Key) => {
      const got = await this.client.send(new GetObjectCommand({ Bucket, Key, IfMatch: `"${etag}"` }));
      let bytes = 0;
      const body = got.Body as Readable;
      body.on('data', (chunk: Buffer) => (bytes += chunk.length));
      await pipeline(body, createWriteStream(target));
      this.countGet(bytes);
    });
  }

  async open(file: string): Promise<ReadSource> {
    const { size, etag } = await this.head(file);
    const identity = `${file}\0${etag}\0${size}`;
    const cached = await this.cache.lookup(identity, size);
    let local = cached ? await openLocalSource(cached) : null;
    return {
      size,
      read: async (position, length) => {
        if (local) return local.read(position, length);
        if (position + length > size) return null;
        if (length === 0) return Buffer.allocUnsafeSlow(0);
        return this.readRange(file, etag, position, length);
      },
      willReadAll: async () => {
        if (local) return;
        const fetched = await this.cache.insert(identity, size, (target) => this.download(file, etag, target));
        if (fetched) local = await openLocalSource(fetched);
      },
      close: async () => {
        await local?.close();
        local = null;
      },
    };
  }

  async stage(file: string, fill: (sink: ByteSink) => Promise<void>): Promise<StagedFile> {
    const upload = new Upload(this.client, file, this.traffic, this.partSize);
    const expected = await this.call(file, async () => {
      try {
        await fill(upload);
        return await upload.finish();
      } catch (err) {
        await upload.abort();
        throw err;
      }
    });
    return {
      location: file,
      publish: async () => {
        const stored = await this.head(file);
        if (stored.size !== expected.size || stored.etag !== expected.etag) {
          throw new Error(`${file}: the stored object (${stored.size} bytes, ETag ${stored.etag}) is not what was uploaded ` +
            `(${expected.size} bytes, ETag ${expected.etag})`);
        }
      },
      discard: () => this.remove(file),
    };
  }

  async writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
    await this.call(file, async (Bucket, Key) => {
      const digest = md5(bytes);
      const put = await this.client.send(new PutObjectCommand({ Bucket, Key, Body: bytes, ContentMD5: digest.toString('base64') }));
      this.traffic.putRequests++;
      this.traffic.bytesUploaded += bytes.length;
      if (put.ETag && unquote(put.ETag) !== digest.toString('hex')) throw new Error(`stored ETag ${put.ETag} does not match the content`);
    });
  }

  async remove(file: string): Promise<void> {
    await this.call(file, (Bucket, Key) => this.client.send(new DeleteObjectCommand({ Bucket, Key })));
  }

  async ensureDir(): Promise<void> {
    // Object stores have no folders.
  }

  async syncDir(): Promise<void> {
    // A completed PUT is durable.
  }

  /** The bucket exists, the credentials are accepted, and they may list, write and delete under `dir`. */
  async check(dir: string): Promise<void> {
    await this.list(dir); // a GET, whose error body says what is wrong (a HEAD's 403 would not tell keys from permissions)
    const probe = `${dir.replace(/\/+$/, '')}/.thaw-write-check-${process.pid}`;
    await this.writeAtomic(probe, Buffer.from('thaw\n'));
    await this.remove(probe);
  }
}

/** One object upload: a single PUT when it fits one part, else a multipart upload with a few parts in flight. */
class Upload implements ByteSink {
  bytesWritten = 0;
  private part: Buffer;
  private used = 0;
  private uploadId: string | null = null;
  private readonly parts: Promise<{ PartNumber: number; ETag: string; md5: Buffer }>[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly bucket: string;
  private readonly key: string;

  constructor(private readonly client: S3Client, file: string, private readonly traffic: S3Traffic, private readonly partSize: number) {
    ({ bucket: this.bucket, key: this.key } = parseS3(file));
    this.part = Buffer.allocUnsafe(partSize);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.bytesWritten += bytes.length;
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, this.part.length - this.used);
      this.part.set(bytes.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === this.part.length) await this.sendPart();
    }
  }

  private async sendPart(): Promise<void> {
    if (this.uploadId === null) {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key }));
      this.uploadId = created.UploadId!;
    }
    const body = this.part.subarray(0, this.used);
    this.part = Buffer.allocUnsafe(this.partSize);
    this.used = 0;
    const PartNumber = this.parts.length + 1;
    const digest = md5(body);
    const sent = this.client
      .send(new UploadPartCommand({
        Bucket: this.bucket, Key: this.key, UploadId: this.uploadId, PartNumber, Body: body, ContentMD5: digest.toString('base64'),
      }))
      .then((r) => {
        this.traffic.putRequests++;
        this.traffic.bytesUploaded += body.length;
        return { PartNumber, ETag: r.ETag!, md5: digest };
      });
    this.parts.push(sent);
    const settled = sent.then(() => undefined, () => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    if (this.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
  }

  /** Completes the upload; returns the size and the ETag the store should report for it. */
  async finish(): Promise<{ size: number; etag: string }> {
    if (this.uploadId === null) {
      const body = this.part.subarray(0, this.used);
      const digest = md5(body);
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: body, ContentMD5: digest.toString('base64') }));
      this.traffic.putRequests++;
      this.traffic.bytesUploaded += body.length;
      return { size: this.bytesWritten, etag: digest.toString('hex') };
    }
    if (this.used > 0) await this.sendPart();
    const parts = await Promise.all(this.parts);
    await this.client.send(new CompleteMultipartUploadCommand({
      Bucket: this.bucket, Key: this.key, UploadId: this.uploadId,
      MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
    }));
    // S3's multipart ETag: MD5 of the parts' MD5s, then `-<number of parts>`.
    const etag = `${md5(Buffer.concat(parts.map((p) => p.md5))).toString('hex')}-${parts.length}`;
    return { size: this.bytesWritten, etag };
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.parts);
    if (this.uploadId === null) return;
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId }))
      .catch(() => undefined); // the store may be the thing that failed; it expires abandoned uploads itself
  }
}
