/**
 * A real S3 store for tests, SeaweedFS (startSeaweedS3, useS3Server), and a proxy in front of it that injects faults
 * (startFaultyS3Proxy). Stopped when the test ends. `pause()`/`resume()` freeze the server process (SIGSTOP/SIGCONT): a
 * store that stops answering in the middle of an upload, with its data kept.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestContext } from 'node:test';
import { freePort } from '../../app/server/free-port';
import { defaultStorageSettings, type ThawStorageSettings } from '../../lib/settings';
import { Storages } from '../../lib/storage';
import { setEnv } from './env';
import { REPO_ROOT } from './python';

export { setEnv } from './env';

export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Environment that points thaw (and any child process) at this server with valid credentials. */
  env: Record<string, string>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** SeaweedFS's `weed`, built by scripts/build-seaweedfs.sh (linked as <repo>/.seaweedfs). */
export function seaweedPath(): string {
  return path.join(REPO_ROOT, '.seaweedfs', 'weed');
}

/**
 * A real S3 store: SeaweedFS (`weed server -s3`: master, volume, filer and S3 gateway in one process) on free
 * loopback ports, its data in a temporary folder, with one identity whose key is checked (wrong keys are refused),
 * and the named buckets created through the S3 API.
 */
export async function startSeaweedS3(buckets: string[]): Promise<TestS3> {
  if (!existsSync(seaweedPath())) throw new Error(`${seaweedPath()} is missing: run scripts/build-seaweedfs.sh (it builds SeaweedFS from the Go module proxy)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-seaweedfs-'));
  const keys = { accessKeyId: 'thawtest', secretAccessKey: `secret-${process.pid}-${Date.now()}` };
  const config = path.join(dir, 's3.json');
  writeFileSync(config, JSON.stringify({
    identities: [{ name: 'thaw', credentials: [{ accessKey: keys.accessKeyId, secretKey: keys.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
  }));
  mkdirSync(path.join(dir, 'data'));
  const [s3, master, volume, filer, s3Grpc, masterGrpc, volumeGrpc, filerGrpc] = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const endpoint = `http://127.0.0.1:${s3}`;
  const child = spawn(seaweedPath(), [
    'server', `-dir=${path.join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', '-s3', `-s3.config=${config}`,
    `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, '-s3.port.iceberg=0', '-s3.port.lance=0',
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`, '-master.volumeSizeLimitMB=256', '-volume.max=32',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const env = { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_REGION: 'us-east-1' };
  try {
    await createBucketsWhenUp(endpoint, keys, buckets, child, () => stderr);
    return { endpoint, ...keys, env, pause: () => child.kill('SIGSTOP'), resume: () => child.kill('SIGCONT'), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Creates the buckets as soon as the gateway takes them (it answers before the filer and volume are ready). */
async function createBucketsWhenUp(
  endpoint: string, keys: { accessKeyId: string; secretAccessKey: string }, buckets: string[],
  child: { exitCode: number | null }, stderr: () => string,
): Promise<void> {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: keys });
  const deadline = Date.now() + 60_000;
  try {
    for (const bucket of buckets) {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`weed exited with code ${child.exitCode}: ${stderr()}`);
        try {
          // A retry after a create that reached the store finds the bucket there already.
          await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: Error) => {
            if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
          });
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: '.probe', Body: 'up' }));
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: '.probe' }));
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`SeaweedFS on ${endpoint} took no object in 60 s\n${stderr()}`, { cause: err });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  } finally {
    client.destroy();
  }
}

/** Storages opened from thaw's default storage settings with these changed, as an edge opens them from what it read. */
export function storagesWith(settings: Partial<ThawStorageSettings> = {}): Storages {
  return new Storages({ ...defaultStorageSettings(), ...settings });
}

/** Starts SeaweedFS for test `t`, points this process' environment at it, and undoes both when the test ends. */
export async function useS3Server(t: TestContext, buckets: string[]): Promise<TestS3> {
  const s3 = await startSeaweedS3(buckets);
  t.after(() => s3.stop());
  setEnv(t, s3.env);
  return s3;
}

/** What the faulty proxy does to the traffic it passes on (changeable while it runs). */
export interface S3Faults {
  /** Flip one byte of every PUT body on its way to the store (the bytes arrive other than they were sent). */
  corruptPutBodies: boolean;
  /** Answer requests of this method with this ETag instead of the store's (a store that reports what it does not hold). */
  etag: { method: 'PUT' | 'HEAD'; value: string } | null;
}

/**
 * An HTTP proxy in front of a real S3 server that injects the faults real stores and networks have and a healthy
 * server never shows: bytes changed in transit, an ETag that does not describe the stored object. Requests are passed
 * on unchanged otherwise (same Host header, so signatures stay valid).
 */
export async function startFaultyS3Proxy(t: TestContext, target: string): Promise<{ endpoint: string; faults: S3Faults }> {
  const faults: S3Faults = { corruptPutBodies: false, etag: null };
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (faults.corruptPutBodies && req.method === 'PUT' && body.length > 0) body[body.length >> 1] ^= 0xff;
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const headers = { ...answer.headers };
        if (faults.etag && faults.etag.method === req.method && headers.etag) headers.etag = faults.etag.value;
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      });
      forward.on('error', (err) => res.destroy(err));
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, faults };
}
