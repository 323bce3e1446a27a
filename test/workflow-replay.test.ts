/**
 * Determinism guard: histories of real runs (saved from test/workflow.test.ts with THAW_SAVE_HISTORIES=1) must replay
 * against the current workflow code. A change that would break running pipelines fails here; record new histories
 * only when the change is deliberate (and versioned with patched() for runs in flight).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './e2e-harness';

const DIR = path.join(__dirname, 'histories');

test('saved histories of real pipeline runs replay against the current workflow code', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.length >= 4, `histories in ${DIR}: ${files.join(', ')}`);
  const histories = files.map((f) => ({ workflowId: f, history: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as unknown }));
  const replayed: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
    replayed.push(r.workflowId);
  }
  assert.deepEqual(replayed, files);
});
