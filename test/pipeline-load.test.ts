import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadPipeline, parsePipeline } from '../lib/pipeline/load';
import { PipelineError } from '../lib/pipeline/problems';

const FILE = '/work/pipelines/p.yaml';

const BASE = `name: demo
model_dir: ../runs/demo
network: toynet
data: {kind: synthetic, task: A, spatial_size: [16, 16]}
`;

function problemsOf(text: string): PipelineError {
  try {
    parsePipeline(text, FILE);
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    assert.equal(err.type, 'PipelineError');
    return err;
  }
  assert.fail('expected a PipelineError');
}

test('defaults, model_dir relative to the file, network shorthand, patterns as string, list, [] or absent', () => {
  const plan = parsePipeline(
    `${BASE}stages:
  - name: pretrain
    iterations: 10
  - name: head
    iterations: 5
    lr: 0.01
    vars_to_freeze: '^((?!fin_conv).)*$'
    vars_to_restore: [a, b]
  - name: all
    iterations: 5
    vars_to_freeze: []
`,
    FILE,
  );
  assert.equal(plan.model_dir, '/work/runs/demo');
  assert.equal(plan.source_file, FILE);
  assert.deepEqual(plan.network, { name: 'toynet', params: {} });
  assert.equal(plan.seed, 0);
  assert.equal(plan.backend, 'auto');
  assert.equal(plan.starting_iter, 0);
  assert.deepEqual(plan.stages[0].settings, {
    optimizer: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, momentum: 0.9,
    batch_size: 4, save_every_n: 50, max_checkpoints: 5, loss_type: 'DicePlusXEnt', frozen_batch_norm: 'moving',
  });
  assert.equal(plan.stages[1].settings.lr, 0.01);
  assert.equal(plan.stages[1].settings.optimizer, 'adam');
  assert.deepEqual(plan.stages.map((s) => s.after), [null, 'pretrain', 'head']);
  assert.equal(plan.stages[0].vars_to_freeze, null);
  assert.deepEqual(plan.stages[1].vars_to_freeze, ['^((?!fin_conv).)*$']);
  assert.deepEqual(plan.stages[1].vars_to_restore, ['a', 'b']);
  assert.deepEqual(plan.stages[2].vars_to_freeze, []);
  assert.deepEqual(plan.stages.map((s) => s.checkpoint_dir), ['/work/runs/demo', '/work/runs/demo', '/work/runs/demo']);
  assert.match(plan.hash, /^[0-9a-f]{64}$/);
});

test('pipeline defaults apply to every stage and a stage overrides them', () => {
  const plan = parsePipeline(
    `${BASE}defaults: {optimizer: momentum, lr: 0.1, batch_size: 2}
stages:
  - {name: a, iterations: 3}
  - {name: b, iterations: 3, optimizer: sgd, save_every_n: 1}
`,
    FILE,
  );
  assert.deepEqual([plan.stages[0].settings.optimizer, plan.stages[0].settings.lr, plan.stages[0].settings.batch_size], ['momentum', 0.1, 2]);
  assert.deepEqual([plan.stages[1].settings.optimizer, plan.stages[1].settings.lr, plan.stages[1].settings.save_every_n], ['sgd', 0.1, 1]);
});

test('model_dir defaults to runs/<name> beside the file and keeps s3:// URLs', () => {
  const stages = 'data: {kind: synthetic, task: A, spatial_size: [8, 8]}\nstages: [{name: a, iterations: 1}]\n';
  assert.equal(parsePipeline(`name: x\nnetwork: toynet\n${stages}`, FILE).model_dir, '/work/pipelines/runs/x');
  assert.equal(parsePipeline(`name: x\nmodel_dir: s3://b/p\nnetwork: toynet\n${stages}`, FILE).model_dir, 's3://b/p');
});

test('per-stage data is merged over the pipeline data, replaced when the kind differs, paths resolved', () => {
  const plan = parsePipeline(
    `${BASE}stages:
  - {name: a, iterations: 1}
  - {name: b, iterations: 1, data: {task: B}}
  - {name: c, iterations: 1, data: {kind: nifti, images: 'imgs/*.nii.gz', label_suffix: _seg, spatial_size: [8, 8, 8]}}
`,
    FILE,
  );
  assert.deepEqual(plan.stages[0].data, { kind: 'synthetic', task: 'A', spatial_size: [16, 16] });
  assert.deepEqual(plan.stages[1].data, { kind: 'synthetic', task: 'B', spatial_size: [16, 16] });
  assert.deepEqual(plan.stages[2].data, {
    kind: 'nifti', images: '/work/pipelines/imgs/*.nii.gz', label_suffix: '_seg', spatial_size: [8, 8, 8], normalisation: 'zscore',
  });
});

test('after may name a later stage; stages come out parents first; forks get branch folders', () => {
  const plan = parsePipeline(
    `${BASE}stages:
  - {name: b1, iterations: 1, after: shared}
  - {name: b2, iterations: 1}
  - {name: shared, iterations: 1, after: null}
  - {name: c1, iterations: 1, after: shared}
`,
    FILE,
  );
  assert.deepEqual(plan.stages.map((s) => [s.name, s.after]), [['shared', null], ['b1', 'shared'], ['b2', 'b1'], ['c1', 'shared']]);
  assert.deepEqual(plan.stages.map((s) => s.checkpoint_dir), [
    '/work/runs/demo', '/work/runs/demo/branches/b1', '/work/runs/demo/branches/b1', '/work/runs/demo/branches/c1',
  ]);
});

test('unknown keys are errors with line:column, the valid keys and a did-you-mean', () => {
  const err = problemsOf(`${BASE}stages:\n  - name: a\n    iterations: 3\n    vars_to_frezee: x\n`);
  assert.equal(
    err.message,
    `${FILE}:8:5: stages[0].vars_to_frezee: unknown key "vars_to_frezee": did you mean "vars_to_freeze"? valid keys here: name, after, iterations, vars_to_restore, vars_to_freeze, data, optimizer, lr, beta1, beta2, epsilon, momentum, batch_size, save_every_n, max_checkpoints, loss_type, frozen_batch_norm, engine, xla`,
  );
  assert.deepEqual(err.problems[0], {
    file: FILE, line: 8, column: 5, field: 'stages[0].vars_to_frezee', message: err.problems[0].message,
  });
  const niftynet = problemsOf(`${BASE}stages:\n  - {name: a, max_iter: 3}\n`);
  assert.match(niftynet.message, /unknown key "max_iter": did you mean "iterations"\?/);
});

test('all problems are reported at once, each at its place', () => {
  const err = problemsOf(`name: bad name
network: {name: toynet, parms: {}}
backend: gpu
stages:
  - {name: a, iterations: 0, vars_to_freeze: 3, optimizer: adamw}
`);
  const lines = err.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
  assert.deepEqual(lines.sort(), [
    '1:7 name: "bad name" is not a valid name: use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit (it becomes a folder name)',
    '2:25 network.parms: unknown key "parms": did you mean "params"? valid keys here: name, params',
    '3:10 backend: must be one of "auto", "tensorflow-gpu", "tensorflow", "cpu" (got "gpu")',
    '5:27 stages[0].iterations: must be >= 1 (got 0)',
    '5:46 stages[0].vars_to_freeze: must be a regex (string) or a list of regexes ([] selects nothing) (got 3)',
    '5:60 stages[0].optimizer: must be one of "adam", "sgd", "momentum" (got "adamw")',
  ]);
});

test('stage references: unknown parent, duplicate names, cycles', () => {
  assert.match(
    problemsOf(`${BASE}stages:\n  - {name: a, iterations: 1}\n  - {name: b, iterations: 1, after: c}\n`).message,
    /:7:37: stages\[1\]\.after: no stage is named "c": valid parents are a$/,
  );
  assert.match(
    problemsOf(`${BASE}stages:\n  - {name: a, iterations: 1}\n  - {name: a, iterations: 1}\n`).message,
    /:7:12: stages\[1\]\.name: stage name "a" is already used by stages\[0\]: stage names must be unique$/,
  );
  assert.match(
    problemsOf(`${BASE}stages:\n  - {name: a, iterations: 1, after: b}\n  - {name: b, iterations: 1, after: a}\n`).message,
    /stages\[0\]\.after: the stages a → b → a form a cycle through "after"/,
  );
});

test('incomplete data is named with the stage and the fix', () => {
  const err = problemsOf(`name: x\nnetwork: toynet\nstages:\n  - {name: a, iterations: 1, data: {kind: synthetic, spatial_size: [8, 8]}}\n  - {name: b, iterations: 1}\n`);
  assert.deepEqual(err.problems.map((p) => `${p.line}:${p.column} ${p.message}`), [
    '4:36 stages[0].data.task is missing: name a synthetic task, e.g. "A"',
    '5:5 no data: add `data:` to the pipeline or to this stage',
  ]);
});

test('YAML syntax errors and non-mapping documents', () => {
  assert.match(problemsOf('name: [unclosed\n').message, /^\/work\/pipelines\/p\.yaml:\d+:\d+: YAML syntax: /);
  assert.match(problemsOf('name: a\nname: b\n').message, /YAML syntax: Map keys must be unique/);
  assert.match(problemsOf('- a\n').message, /a pipeline is a mapping with name, network and stages/);
});

test('the hash ignores formatting and key order but not content', () => {
  const a = parsePipeline(`${BASE}stages: [{name: a, iterations: 1, lr: 0.01}]\n`, FILE);
  const b = parsePipeline(`network: toynet\nname: demo\nmodel_dir: ../runs/demo\ndata: {spatial_size: [16, 16], task: A, kind: synthetic}\nstages:\n  - iterations: 1\n    lr: 1.0e-2\n    name: a\n`, FILE);
  const c = parsePipeline(`${BASE}stages: [{name: a, iterations: 1, lr: 0.02}]\n`, FILE);
  assert.equal(a.hash, b.hash);
  assert.notEqual(a.hash, c.hash);
});

test('loadPipeline reads a file and names it when it cannot', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'thaw-load-'));
  const file = path.join(dir, 'p.yaml');
  await writeFile(file, `# yaml-language-server: $schema=../schemas/pipeline.schema.json\n${BASE}stages: [{name: a, iterations: 1}]\n`);
  const plan = await loadPipeline(file);
  assert.equal(plan.source_file, file);
  assert.equal(plan.model_dir, path.resolve(dir, '../runs/demo'));
  await assert.rejects(loadPipeline(path.join(dir, 'missing.yaml')), /missing\.yaml: cannot read the pipeline/);
});
