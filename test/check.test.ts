/**
 * `thaw check` end to end: the CLI from source on pipelines whose starting checkpoint thaw itself wrote (NiftyNet's
 * toynet from the network registry, after a stage that trained only its output layer, so only its Adam slots exist).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { saveCheckpoint, type DType, type Tensor } from '../lib/checkpoint';
import { checkCommand } from '../app/cli/commands/check';
import { getNetwork } from '../lib/training/networks';
import { optimizerVariables } from '../lib/training/optimizers/slot-names';
import type { PreflightReport } from '../lib/selection/preflight';
import { runCli, runInProcess, type CliResult } from './helpers/cli';
import { REPO_ROOT } from './helpers/python';

const ITERATION = 40;
const PARAMS = { dims: 2, hidden_features: 4 };

function zeros(dtype: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n) };
}

const PIPELINE_HEAD = `
model_dir: ./run
network: {name: toynet, params: {dims: 2, hidden_features: 4}}
data: {kind: synthetic, task: B, spatial_size: [8, 8]}
starting_iter: ${ITERATION}
stages:`;

const PIPELINES: Record<string, string> = {
  // Unfreeze everything: thaw restores what the checkpoint has and initialises the conv layers' missing Adam slots.
  runnable: `name: unfreeze${PIPELINE_HEAD}
  - name: all
    iterations: 20
    vars_to_freeze: []
  - name: more
    after: all
    iterations: 10`,
  // The NiftyNet #335 trap.
  trap: `name: trap${PIPELINE_HEAD}
  - name: finetune
    iterations: 20
    vars_to_restore: '^((?!(Adam)).)*$'`,
  unknownNetwork: `name: unknown${PIPELINE_HEAD.replace('name: toynet', 'name: toynett')}
  - name: s
    iterations: 5`,
  // The checkpoint is toynet's: a pipeline of another network restores nothing of it.
  foreign: `name: foreign${PIPELINE_HEAD.replace('{name: toynet, params: {dims: 2, hidden_features: 4}}', '{name: highres3dnet, params: {dims: 2}}')}
  - name: s
    iterations: 5`,
  schema: `name: broken${PIPELINE_HEAD}
  - name: finetune
    iterations: -3`,
};

let dir: string;
const results: Record<string, CliResult> = {};
const file = (name: string) => path.join(dir, `${name}.yaml`);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'thaw-check-'));
  const network = getNetwork('toynet').variables(PARAMS);
  const head = network.filter((v) => v.trainable && v.name.startsWith('ToyNet/conv_output_bn/'));
  const tensors = new Map<string, Tensor>();
  for (const v of [...network, ...optimizerVariables('adam', head)]) tensors.set(v.name, zeros(v.dtype as DType, v.shape));
  await saveCheckpoint(path.join(dir, 'run'), ITERATION, tensors);
  for (const [name, text] of Object.entries(PIPELINES)) await writeFile(file(name), text);
  // The exit codes through the real dispatcher, one CLI process per case, concurrently; the rest in this process.
  const runs: Record<string, string[]> = {
    human: ['check', file('runnable')],
    trap: ['check', file('trap')],
    usage: ['check', file('runnable'), '--colour'],
  };
  await Promise.all(Object.entries(runs).map(async ([key, args]) => (results[key] = await runCli(args))));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('thaw check', () => {
  it('a runnable pipeline: exit 0, a per-stage table, the initialised slots reported', () => {
    const { code, stdout } = results.human;
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        'stage  after  iterations  restored  initialised  frozen  trained  slots initialised  carried',
        '-----  -----  ----------  --------  -----------  ------  -------  -----------------  -------',
        'all    -      40→60             26            6       0        6                  6        0',
        'more   all    60→70             32            0       0        6                  0        0',
        '',
        'stage all: 6 optimizer slots initialised to zero because the checkpoint it starts from has none (their variables were frozen there)',
        '',
        `${file('runnable')}: runnable (2 stages, 0 warnings)`,
        '',
      ].join('\n'),
    );
  });

  it('--verbose lists every variable with its fate, shape and dtype', async () => {
    const { code, printed: stdout } = await runInProcess(checkCommand, [file('runnable'), '--verbose']);
    assert.equal(code, 0);
    assert.match(stdout, /stage all \(iterations 40→60, from .*model\.ckpt-40\):/);
    assert.match(stdout, /ToyNet\/conv_input_bn_relu\/conv_\/w\s+\[3, 3, 1, 4\]\s+float32\s+restored, trained/);
    assert.match(stdout, /ToyNet\/conv_input_bn_relu\/conv_\/w\/Adam\s+\[3, 3, 1, 4\]\s+float32\s+initialised, optimizer/);
    assert.match(stdout, /ToyNet\/conv_output_bn\/conv_\/w\/Adam\s+\[1, 1, 4, 2\]\s+float32\s+restored, optimizer/);
    assert.match(stdout, /ToyNet\/conv_input_bn_relu\/bn_\/moving_mean\s+\[4\]\s+float32\s+restored, statistics/);
    assert.match(stdout, /ToyNet\/conv_input_bn_relu\/bn_\/ToyNet\/conv_input_bn_relu\/bn_\/moving_mean\/local_step\s+\[\]\s+float32\s+restored, statistics/);
    assert.match(stdout, /ApplyGradients\/beta1_power\s+\[\]\s+float32\s+restored, optimizer/);
  });

  it('--json gives the same as data', async () => {
    const { code, printed } = await runInProcess(checkCommand, [file('runnable'), '--json']);
    assert.equal(code, 0);
    const report = JSON.parse(printed) as PreflightReport;
    assert.equal(report.ok, true);
    assert.deepEqual(report.stages.map((s) => [s.name, s.startIteration, s.endIteration, s.selection.trained.length]), [
      ['all', 40, 60, 6],
      ['more', 60, 70, 6],
    ]);
    assert.equal(report.stages[0].restoreFrom, path.join(dir, 'run', 'models', 'model.ckpt-40'));
    assert.equal(report.stages[1].restoreFrom, path.join(dir, 'run', 'models', 'model.ckpt-60'));
    assert.equal(report.stages[0].variables.length, 32);
  });

  it('a pipeline that cannot run: exit 1, the error with its fix', () => {
    const { code, stdout } = results.trap;
    assert.equal(code, 1);
    assert.ok(stdout.includes(`error: ${file('trap')}:7:5: stage "finetune": stages[0].vars_to_freeze: the stage trains nothing`), stdout);
    assert.ok(stdout.includes('(the NiftyNet #335 trap)\n  Fix: add vars_to_freeze'), stdout);
    assert.ok(stdout.endsWith(`${file('trap')}: NOT runnable (1 error, 0 warnings)\n`), stdout);
  });

  it('schema errors come with line:column, as text and as data', async () => {
    const text = await runInProcess(checkCommand, [file('schema')]);
    assert.equal(text.code, 1);
    assert.equal(
      text.printed,
      `error: ${file('schema')}:8:17: stages[0].iterations: must be >= 1 (got -3)\n\n${file('schema')}: NOT runnable (1 error, 0 warnings)`,
    );
    const { code, printed } = await runInProcess(checkCommand, [file('schema'), '--json']);
    assert.equal(code, 1);
    const report = JSON.parse(printed) as PreflightReport;
    assert.equal(report.ok, false);
    assert.deepEqual(report.errors.map((e) => [e.code, e.field]), [['PipelineError', 'stages[0].iterations']]);
  });

  it('an unknown network is one error naming the file, the field and the known networks', async () => {
    const { code, printed } = await runInProcess(checkCommand, [file('unknownNetwork')]);
    assert.equal(code, 1);
    // The registry's message (its list of networks grows); the file and field prefix are preflight's.
    assert.ok(printed.startsWith(`error: ${file('unknownNetwork')}:3:17: network.name: unknown network "toynett"\n  Fix: use one of highres3dnet, `), printed);
    assert.ok(printed.endsWith(`\n\n${file('unknownNetwork')}: NOT runnable (1 error, 0 warnings)`), printed);
  });

  it('a checkpoint of another network is one error saying whose variables it holds', async () => {
    const { code, printed } = await runInProcess(checkCommand, [file('foreign')]);
    assert.equal(code, 1);
    assert.ok(printed.includes(
      `error: ${file('foreign')}:7:5: stage "s": stages[0].vars_to_restore: the starting checkpoint ${path.join(dir, 'run', 'models', `model.ckpt-${ITERATION}`)} ` +
      'holds none of the network\'s 189 variables: it was written by another network (its variables are under ApplyGradients/, ToyNet/; ' +
      'the network\'s under HighRes3DNet/)\n  Fix: set network.name and network.params to the network that wrote the checkpoint, or start from scratch with starting_iter: 0'), printed);
    assert.ok(printed.endsWith(`${file('foreign')}: NOT runnable (1 error, 0 warnings)`), printed);
  });

  it('usage errors exit 2', async () => {
    assert.equal(results.usage.code, 2);
    assert.match(results.usage.stderr, /Unknown option '--colour'.*\nUsage: thaw check <pipeline.yaml> \[--json\] \[--verbose\]/);
    await assert.rejects(runInProcess(checkCommand, []), /expected exactly one pipeline YAML file/);
  });
});

describe('shipped pipelines', () => {
  it('every pipelines/*.yaml (found from the folder) is runnable per thaw check', async () => {
    const folder = path.join(REPO_ROOT, 'pipelines');
    const files = (await readdir(folder)).filter((f) => f.endsWith('.yaml')).sort();
    assert.ok(files.length >= 4, `pipelines: ${files.join(', ')}`);
    for (const name of files) {
      const { code, printed } = await runInProcess(checkCommand, [path.join(folder, name)]);
      assert.equal(code, 0, `${name}:\n${printed}`);
      assert.match(printed, new RegExp(`${name}: runnable \\(\\d+ stages?, 0 warnings\\)`));
    }
  });
});
