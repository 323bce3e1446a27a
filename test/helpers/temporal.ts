/**
 * A real Temporal dev server for a test: temp SQLite file, free port, stopped (and the file removed) when the
 * test ends, so tests can run in parallel and leave no server behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevServer, type DevServer, type DevServerOptions } from '../../app/server/dev-server';

// Worker state changes at INFO drown the test report; warnings and errors still show.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed by another helper in this process
}

export async function startTestServer(t: TestContext, options: Partial<DevServerOptions> = {}): Promise<DevServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'thaw-temporal-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), ...options });
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}
