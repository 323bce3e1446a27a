/**
 * Finding runs from anywhere, and one clear line when there is nothing to find: the thaw CLI in its own processes,
 * from folders other than the pipeline's, on per-model_dir embedded servers under a temporary state home
 * (THAW_STATE_HOME; THAW_STATE_DIR unset). A run that no worker polls is made with the library on the model_dir's
 * own server, which is then stopped, as when its `thaw run` was killed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { recordModelDir, stateDirFor } from '../app/client/cluster';
import { readStateSettings } from '../lib/settings';
import { modelDirHash } from '../app/client/ids';
import { startPipeline } from '../app/client/start';
import { loadPipeline } from '../lib/pipeline/load';
import { startDevServer } from '../app/server/dev-server';
import { connectClient, tempDir, writePipeline } from './e2e-harness';
import { backgroundPid, exitWithin, killOnExit, outputMatches, runCli, startThaw, type CliResult } from './helpers/cli';

/** One line of thaw's own (plus an optional `Fix:` line), no stack trace, no SDK noise. */
function assertOneClearLine(r: CliResult, pattern: RegExp): void {
  const out = r.stdout + r.stderr;
  assert.match(out, pattern);
  assert.doesNotMatch(out, /\n\s+at |internal error|Channel has been shut down|WorkflowNotFoundError|\[WARN\]/, out);
  const lines = out.trim().split('\n').filter((l) => !/^\s+Fix: /.test(l));
  assert.ok(lines.length <= 2, `at most the message and the usage line:\n${out}`);
}

function isolated(tag: string) {
  const dir = tempDir(tag);
  const home = path.join(dir, 'state');
  const elsewhere = path.join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  // THAW_STATE_DIR would put every pipeline into one folder: these tests are about the per-model_dir ones.
  const env = { THAW_STATE_HOME: home, THAW_STATE_DIR: '' };
  const cli = (args: string[], cwd = elsewhere) => runCli(args, env, cwd);
  return { dir, home, elsewhere, env, cli };
}

test('a run no worker polls: status, wait and cancel from another folder say so in one line; unknown runs are one line; list creates nothing', { timeout: 600_000 }, async (t) => {
  const { dir, home, elsewhere, env, cli } = isolated('cli-stranded');
  const file = writePipeline(path.join(dir), 'stranded', `  - {name: only, iterations: 5}\n`);
  const plan = await loadPipeline(file);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  t.after(() => {
    process.env = saved;
  });
  const stateDir = stateDirFor(plan.model_dir, readStateSettings());
  assert.equal(stateDir, path.join(home, modelDirHash(plan.model_dir)));
  recordModelDir(stateDir, plan.model_dir);
  const server = await startDevServer({ dbFile: path.join(stateDir, 'temporal.sqlite') });
  let runId: string;
  try {
    const conn = await connectClient(server);
    try {
      runId = (await startPipeline(conn.client, plan)).workflowId;
    } finally {
      await conn.close();
    }
  } finally {
    await server.stop();
  }

  for (const ref of [file, runId]) {
    const status = await cli(['status', ref]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`run ${runId}: running`));
    assert.match(status.stdout, /no worker polls the task queues thaw-cpu and thaw-gpu .*: the run makes no progress until one does/);
    assert.doesNotMatch(status.stdout + status.stderr, /\n\s+at |Channel has been shut down|no worker answered/);
  }
  // While wait gives workers its grace time to poll (2 s: no worker is starting here), the commands that reach no
  // server (or another model_dir's, which never ran) run beside it; the ones on this model_dir's database come after
  // (they would wait for its lock).
  const otherPipeline = writePipeline(elsewhere, 'never', `  - {name: only, iterations: 5}\n`);
  const [wait, badGrace, neverRan, notAnId, statusNever, badLimit] = await Promise.all([
    cli(['wait', runId, '--grace', '2']),
    cli(['wait', runId, '--grace', 'soon']),
    cli(['status', 'thaw-nope-0123456789']),
    cli(['status', 'nope']),
    cli(['status', otherPipeline]),
    cli(['list', '--limit', 'abc']),
  ]);
  assert.equal(wait.code, 1, wait.stdout + wait.stderr);
  assertOneClearLine(wait, new RegExp(`thaw wait: run ${runId} makes no progress: no worker polls the task queues thaw-cpu and thaw-gpu`));
  assert.equal(badGrace.code, 2);
  assertOneClearLine(badGrace, /thaw wait: --grace takes a number >= 0 \(seconds\), got "soon"/);
  assert.equal(neverRan.code, 1);
  assertOneClearLine(neverRan, /thaw status: no run thaw-nope-0123456789: the embedded server of its model_dir has never run/);
  assert.equal(notAnId.code, 2);
  assertOneClearLine(notAnId, /thaw status: "nope" is neither a pipeline file nor a thaw run id/);
  assert.equal(statusNever.code, 1);
  assertOneClearLine(statusNever, /thaw status: no run thaw-never-\w+: the embedded server of its model_dir has never run/);
  assert.equal(badLimit.code, 2);
  assertOneClearLine(badLimit, /thaw list: --limit takes a whole number >= 1 \(runs\), got "abc"/);

  const hash = modelDirHash(plan.model_dir);
  const unknownHere = await cli(['status', `thaw-nope-${hash}`]);
  assert.equal(unknownHere.code, 1);
  assertOneClearLine(unknownHere, new RegExp(`thaw status: no run thaw-nope-${hash} on .*local dev server`));
  const cancelUnknown = await cli(['cancel', `thaw-nope-${hash}`]);
  assert.equal(cancelUnknown.code, 1);
  assertOneClearLine(cancelUnknown, new RegExp(`thaw cancel: no run thaw-nope-${hash} on `));

  const list = await cli(['list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${runId}\\s+running`));

  const cancel = await cli(['cancel', file]);
  assert.equal(cancel.code, 0, cancel.stdout + cancel.stderr);
  assert.match(cancel.stdout, new RegExp(`run ${runId} terminated \\(no worker polls the task queue thaw-cpu.*so none can process a cancellation\\)`));
  const after = await cli(['status', runId, '--json']);
  assert.equal(JSON.parse(after.stdout).execution, 'TERMINATED');

  assert.equal(existsSync(path.join(elsewhere, '.thaw')), false, 'nothing created where the commands ran');
  assert.deepEqual(readdirSync(home), [hash], 'one state folder, the model_dir\'s');
});

test('thaw run of one pipeline from two folders shares one server and one run; wait, status and list find it from a third', { timeout: 600_000 }, async (t) => {
  const { dir, home, elsewhere, cli } = isolated('cli-shared');
  const file = writePipeline(dir, 'shared', `  - {name: only, iterations: 400, save_every_n: 1000}\n`);
  const here = path.join(dir, 'here');
  mkdirSync(here);
  const detached = await cli(['run', path.relative(here, file), '--detach'], here);
  assert.equal(detached.code, 0, detached.stdout + detached.stderr);
  const runId = detached.stdout.trim();
  assert.match(runId, /^thaw-shared-[0-9a-f]{10}$/);
  killOnExit(backgroundPid(detached));

  const [second, waited] = await Promise.all([cli(['run', file]), cli(['wait', path.relative(elsewhere, file)])]);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  const how = new RegExp(`run ${runId} (attached to the running run|already completed)`).exec(second.stdout + second.stderr);
  assert.ok(how, second.stdout + second.stderr);
  // Attached: while the first runs, on its server; already completed: the first had finished, same database.
  t.diagnostic(`second thaw run: ${how[1]}; ${/cluster: .*/.exec(second.stdout + second.stderr)?.[0]}`);
  assert.equal(waited.code, 0, waited.stdout + waited.stderr);
  assert.match(waited.stdout, /^only\s.*model\.ckpt-400$/m);

  const third = path.join(dir, 'third');
  mkdirSync(third);
  const status = await cli(['status', runId, '--json'], third);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).execution, 'COMPLETED');
  const list = await cli(['list', '--json'], third);
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ workflowId: string }>).map((r) => r.workflowId), [runId], 'one run');
  assert.deepEqual(readdirSync(home).length, 1, 'one state folder for the one model_dir');
  for (const d of [here, elsewhere, third]) assert.equal(existsSync(path.join(d, '.thaw')), false, d);
});

test('a second thaw run takes the server over when the thaw that ran it stops, and the run ends as it would have', { timeout: 600_000 }, async (t) => {
  const { dir, elsewhere, env, cli } = isolated('cli-takeover');
  // 128² images: a few seconds of training, so the second thaw is attached while the first still trains.
  const file = writePipeline(dir, 'takeover', `  - {name: only, iterations: 1500, save_every_n: 500, data: {spatial_size: [128, 128]}}\n`);
  const detached = await cli(['run', file, '--detach']);
  assert.equal(detached.code, 0, detached.stdout + detached.stderr);
  const runId = detached.stdout.trim();
  const owner = backgroundPid(detached);
  killOnExit(owner);

  const second = startThaw(t, ['run', file], env, elsewhere);
  await outputMatches(second, /attached to the running run/, 120_000);
  // As a user stopping the first thaw: SIGTERM (Ctrl-C would do the same): it checkpoints, stops its server and exits.
  process.kill(owner, 'SIGTERM');
  assert.equal(await exitWithin(second, 'after the first thaw stopped', 300_000), 0, second.output());
  const output = second.output();
  assert.match(output, /this one runs it now \(same address\), and the run carries on/);
  assert.match(output, /Pipeline takeover completed/);
  assert.match(output, /^only\s+0→1500\s.*model\.ckpt-1500$/m);
  assert.doesNotMatch(output, /UNAVAILABLE|\n\s+at /);

  const status = await cli(['status', runId, '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).execution, 'COMPLETED');
});
