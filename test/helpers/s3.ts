/**
 * A real S3-compatible server for a test: `moto_server` (PyPI moto, from .venv) on a free loopback port, with
 * credential checking on (an IAM user with s3:* and its key, made by test/python/moto_setup.py) and the named
 * buckets created. Stopped when the test ends. `pause()`/`resume()` freeze the server process (SIGSTOP/SIGCONT): a
 * store that stops answering in the middle of an upload, with its data kept.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../../lib/server/free-port';
import { setEnv } from './env';
import { REPO_ROOT, runPython } from './python';

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

export function motoServerPath(): string {
  return path.join(REPO_ROOT, '.venv', 'bin', 'moto_server');
}

async function waitUntilUp(endpoint: string, child: { exitCode: number | null }, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}: ${stderr()}`);
    try {
      await fetch(`${endpoint}/moto-api/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr()}`);
}

export async function startMotoServer(buckets: string[]): Promise<TestS3> {
  if (!existsSync(motoServerPath())) throw new Error(`${motoServerPath()} is missing: run .venv/bin/pip install -r requirements.txt`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(motoServerPath(), ['-H', '127.0.0.1', '-p', String(port)], {
    // The first three requests (creating the IAM user, its policy and key) pass unauthenticated; all later ones are checked.
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '3' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
  };
  try {
    await waitUntilUp(endpoint, child, () => stderr);
    const keys = JSON.parse(await runPython('moto_setup.py', [endpoint, ...buckets])) as { accessKeyId: string; secretAccessKey: string };
    return {
      endpoint,
      ...keys,
      env: {
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
        AWS_REGION: 'us-east-1',
      },
      pause: () => child.kill('SIGSTOP'),
      resume: () => child.kill('SIGCONT'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts moto for test `t`, points this process' environment at it, and undoes both when the test ends. */
export async function useMotoServer(t: TestContext, buckets: string[]): Promise<TestS3> {
  const s3 = await startMotoServer(buckets);
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
