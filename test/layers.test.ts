/**
 * The layers as the folders say: lib/ is the core, plain TypeScript usable without Temporal; the Temporal edge
 * (app/: CLI, client, embedded server; workflows/, activities/, worker.ts, contract.ts) builds on it, never the reverse.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { sourceFiles } from './helpers/sources';

const REPO = path.join(__dirname, '..');

/** Every module specifier a file imports or requires. */
function imports(file: string): string[] {
  const text = readFileSync(path.join(REPO, file), 'utf8');
  return [...text.matchAll(/(?:from|import|require(?:\.resolve)?)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

const EDGE = ['app', 'workflows', 'activities', 'worker.ts', 'contract.ts', 'plugin.ts', 'client.ts', 'index.ts'];

test('lib/ imports neither Temporal nor the edge that builds on it (app/, workflows/, activities/, contract.ts, …)', () => {
  const offending: string[] = [];
  for (const file of sourceFiles('lib')) {
    for (const spec of imports(file)) {
      if (spec.startsWith('@temporalio/')) offending.push(`${file}: ${spec}`);
      if (!spec.startsWith('.')) continue;
      const target = path.relative(REPO, path.resolve(REPO, path.dirname(file), spec));
      if (EDGE.some((e) => target === e || target === e.replace(/\.ts$/, '') || target.startsWith(`${e}/`))) offending.push(`${file}: ${spec}`);
    }
  }
  assert.deepEqual(offending, []);
});

test('workflows/ and activities/ meet only in contract.ts: neither imports the other', () => {
  const crossing = (from: string, to: string) => sourceFiles(from).flatMap((file) =>
    imports(file).filter((s) => s.startsWith('.') && path.relative(REPO, path.resolve(REPO, path.dirname(file), s)).startsWith(`${to}`)).map((s) => `${file}: ${s}`));
  assert.deepEqual([...crossing('workflows', 'activities'), ...crossing('activities', 'workflows')], []);
});
