/**
 * thaw against the real NiftyNet fixtures (shared/fixtures/niftynet/, see their README.md files):
 * - highres3dnet-prostate: a real 2019 HighRes3DNet checkpoint (index, .meta and state file; no data shard). A
 *   stand-in with every variable of the real index is written by TensorFlow; `thaw check` restores all of it, and
 *   starting_iter -1 falls back from the state file's missing model.ckpt-20000 to 19500 and says so. A short thaw
 *   stage from it (frozen with a BraTS regex) writes a checkpoint that NiftyNet's own graph (the real .meta)
 *   restores completely and runs, with the frozen variables unchanged and the trained ones changed.
 * - configs-brats-staged-unfreezing: every vars_to_freeze / vars_to_restore of the real BraTS .ini files selects in
 *   thaw exactly what Python's re.search (NiftyNet's rule) selects on the real variable listing, and thaw's graph of
 *   that network with Adam is exactly the listing's 317 names and shapes.
 * - nonewnet-lfs-pointer-shard: a data shard that is a Git LFS pointer is listed (index only) but never read as
 *   data: `thaw check` (starting_iter N and -1) and `thaw diff` say it is an LFS pointer and how to fetch it.
 */
import assert from 'node:assert/strict';
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CheckpointReader, listVariables } from '../lib/checkpoint';
import { checkCommand } from '../app/cli/commands/check';
import { DEFAULT_SETTINGS } from '../lib/pipeline/defaults';
import { loadPipeline } from '../lib/pipeline/load';
import { compilePattern } from '../lib/selection/pattern';
import { checkPlan, type PreflightReport } from '../lib/selection/preflight';
import { selectVariables, type SelectionInput } from '../lib/selection/select';
import { loadBackend } from '../lib/training/backend';
import { getNetwork } from '../lib/training/networks';
import { runStage } from '../lib/training/run-stage';
import type { StageRunRequest } from '../lib/training/types';
import { runCli, runInProcess } from './helpers/cli';
import { SHARED_DIR } from './helpers/fixtures';
import { readFloat32, relativeMaxDiff, testStream, thawForward, writeArray } from './helpers/niftynet';
import { runPython } from './helpers/python';

const FIXTURES = path.join(SHARED_DIR, 'fixtures', 'niftynet');
const PROSTATE = path.join(FIXTURES, 'highres3dnet-prostate');
const BRATS = path.join(FIXTURES, 'configs-brats-staged-unfreezing');
const LFS = path.join(FIXTURES, 'nonewnet-lfs-pointer-shard');

const PROSTATE_NET = { name: 'highres3dnet', params: { activation_function: 'relu', num_classes: 2 } };
const BRATS_NET = { name: 'highres3dnet', params: { activation_function: 'leakyrelu', in_channels: 2, num_classes: 2 } };
/** One of the BraTS study's regexes (study_1/brats_tl_freez_3.ini): train only res_3*, conv_1 and conv_2. */
const BRATS_FREEZE = '^((?!HighRes3DNet\\/(res_3|conv_1|conv_2)).)*$';
const isOptimizerState = (name: string) => /\/Adam(_1)?$/.test(name) || name.startsWith('ApplyGradients/');

/** Copies a read-only fixture folder into `dest`, writable. */
async function copyFixture(from: string, dest: string): Promise<void> {
  await cp(from, dest, { recursive: true });
  for (const name of await readdir(dest, { recursive: true })) await chmod(path.join(dest, name), 0o755);
}

function pipelineYaml(o: { name: string; network: object; startingIter: number; stage?: string; seed?: number }): string {
  return [
    `name: ${o.name}`,
    'model_dir: .',
    `network: ${JSON.stringify(o.network)}`,
    'data: {kind: synthetic, task: A, spatial_size: [16, 16, 16]}',
    `seed: ${o.seed ?? 0}`,
    `starting_iter: ${o.startingIter}`,
    'stages:',
    o.stage ?? '  - name: finetune\n    iterations: 2',
    '',
  ].join('\n');
}

let root: string;
/** A model_dir holding the prostate stand-in as NiftyNet left it: model.ckpt-19500 + the real .meta and state file. */
let prostateDir: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'thaw-niftynet-fixtures-'));
  prostateDir = path.join(root, 'prostate');
  const models = path.join(prostateDir, 'models');
  await mkdir(models, { recursive: true });
  await runPython('niftynet_fixtures.py', ['standin', path.join(PROSTATE, 'tf_listing.txt'), path.join(models, 'model.ckpt-19500'), '1']);
  for (const name of ['model.ckpt-19500.meta', 'checkpoint']) {
    await copyFile(path.join(PROSTATE, 'models', name), path.join(models, name));
    await chmod(path.join(models, name), 0o644);
  }
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('highres3dnet-prostate (a real 2019 NiftyNet checkpoint, data written by TensorFlow)', () => {
  let reports: Record<'exact' | 'latest', PreflightReport>;
  let latestHuman: string;

  before(async () => {
    await writeFile(path.join(prostateDir, 'exact.yaml'), pipelineYaml({ name: 'exact', network: PROSTATE_NET, startingIter: 19500 }));
    await writeFile(path.join(prostateDir, 'latest.yaml'), pipelineYaml({ name: 'latest', network: PROSTATE_NET, startingIter: -1 }));
    // The CLI in its own process while this one runs the command twice (in turn: each captures console.log).
    const cliRun = runCli(['check', path.join(prostateDir, 'latest.yaml'), '--json']);
    const exact = await runInProcess(checkCommand, [path.join(prostateDir, 'exact.yaml'), '--json']);
    const human = await runInProcess(checkCommand, [path.join(prostateDir, 'latest.yaml')]);
    const cli = await cliRun;
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.equal(exact.code, 0, exact.printed);
    assert.equal(human.code, 0, human.printed);
    reports = { latest: JSON.parse(cli.stdout) as PreflightReport, exact: JSON.parse(exact.printed) as PreflightReport };
    latestHuman = human.printed;
  });

  it('the stand-in holds exactly the variables of the real index', async () => {
    const real = await listVariables(path.join(PROSTATE, 'models', 'model.ckpt-19500'));
    assert.equal(real.length, 317);
    assert.deepEqual(await listVariables(path.join(prostateDir, 'models', 'model.ckpt-19500')), real);
  });

  for (const which of ['exact', 'latest'] as const) {
    it(`thaw check --json (starting_iter ${which === 'exact' ? 19500 : -1}): all 189 network variables and the Adam state restored, no errors`, () => {
      const report = reports[which];
      assert.deepEqual(report.errors, []);
      assert.ok(report.ok);
      const [stage] = report.stages;
      assert.equal(stage.restoreFrom, path.join(prostateDir, 'models', 'model.ckpt-19500'));
      assert.equal(stage.startIteration, 19500);
      const network = getNetwork(PROSTATE_NET.name).variables(PROSTATE_NET.params);
      assert.equal(network.length, 189);
      const restored = new Set(stage.selection.restored);
      assert.deepEqual(network.map((v) => v.name).filter((n) => !restored.has(n)), [], 'network variables not restored');
      const trainable = network.filter((v) => v.trainable).map((v) => v.name);
      const adam = [...trainable.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]), 'ApplyGradients/beta1_power', 'ApplyGradients/beta2_power'];
      assert.deepEqual(adam.filter((n) => !restored.has(n)), [], 'optimizer state not restored');
      assert.equal(restored.size, 317);
      assert.deepEqual(stage.selection.initialised, []);
      assert.deepEqual(stage.selection.slotsInitialised, []);
      assert.equal(stage.selection.trained.length, 63);
      if (which === 'exact') assert.deepEqual(report.warnings, []);
    });
  }

  it('starting_iter -1: the state file names the missing model.ckpt-20000; thaw starts from 19500 and says so', () => {
    const { warnings } = reports.latest;
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0].code, 'StartingCheckpointFallback');
    assert.equal(warnings[0].field, 'starting_iter');
    const [first] = warnings[0].message.split('\n');
    assert.match(first, /starting_iter: -1: the checkpoint state file .*models\/checkpoint names model\.ckpt-20000, which does not exist/);
    assert.match(first, /starting from model\.ckpt-19500, the newest valid checkpoint/);
    const line = latestHuman.split('\n').find((l) => l.startsWith('warning:'));
    assert.ok(line?.includes('model.ckpt-20000') && line.includes('model.ckpt-19500'), latestHuman);
    assert.match(latestHuman, /runnable \(1 stage, 1 warning\)/);
  });
});

/** The [TRAINING] vars_to_freeze / vars_to_restore of an .ini file, including ones commented out (`#model 11 vars_to_freeze =...`). */
interface IniSelection {
  file: string;
  commented: boolean;
  vars_to_restore: string | null;
  vars_to_freeze: string | null;
}

async function bratsSelections(): Promise<IniSelection[]> {
  const out: IniSelection[] = [];
  const files = (await readdir(path.join(BRATS, 'config'), { recursive: true })).filter((f) => f.endsWith('.ini')).sort();
  for (const file of files) {
    const text = await readFile(path.join(BRATS, 'config', file), 'utf8');
    const active: IniSelection = { file, commented: false, vars_to_restore: null, vars_to_freeze: null };
    let section = '';
    for (const line of text.split('\n')) {
      const header = /^\s*\[(.+)\]\s*$/.exec(line);
      if (header) section = header[1];
      const m = /^\s*(#.*?)?\b(vars_to_restore|vars_to_freeze)\s*=\s*(.*?)\s*$/.exec(line);
      if (!m || section !== 'TRAINING' || m[3] === '') continue;
      const key = m[2] as 'vars_to_restore' | 'vars_to_freeze';
      if (m[1]) out.push({ file, commented: true, vars_to_restore: null, vars_to_freeze: null, [key]: m[3] });
      else active[key] = m[3];
    }
    if (active.vars_to_freeze !== null || active.vars_to_restore !== null) out.push(active);
  }
  return out;
}

describe('configs-brats-staged-unfreezing (real BraTS configs and the listing of their checkpoint)', () => {
  let selections: IniSelection[];
  let listing: { name: string; shape: number[] }[];
  /** Python's re.search(pattern, name + ':0') over the listing, per pattern. */
  let python: Record<string, string[]>;

  before(async () => {
    selections = await bratsSelections();
    const patterns = [...new Set(selections.flatMap((s) => [s.vars_to_freeze, s.vars_to_restore]).filter((p): p is string => p !== null))];
    const file = path.join(root, 'brats-patterns.json');
    await writeFile(file, JSON.stringify(patterns));
    const out = JSON.parse(await runPython('niftynet_fixtures.py', ['regex', path.join(BRATS, 'config', 'brats', 'net_vars.txt'), file])) as {
      listing: [string, number[]][];
      matches: Record<string, string[]>;
    };
    listing = out.listing.map(([name, shape]) => ({ name, shape }));
    python = out.matches;
  });

  it('the .ini files hold the regexes of the study (parsed, not written down here)', () => {
    const active = selections.filter((s) => !s.commented);
    assert.ok(active.length >= 8, JSON.stringify(selections, null, 1));
    assert.ok(selections.some((s) => s.vars_to_freeze === BRATS_FREEZE));
    assert.ok(selections.some((s) => s.commented && s.vars_to_freeze?.endsWith('|)).)*$')), 'the commented-out empty alternative');
    assert.ok(selections.some((s) => s.vars_to_restore === '^((?!(Adam)).)*$' && s.vars_to_freeze === null));
    assert.equal(listing.length, 317);
  });

  it('compilePattern selects exactly what Python re.search selects on name + ":0", for every regex', () => {
    const names = listing.map((v) => v.name);
    for (const [pattern, expected] of Object.entries(python)) {
      assert.ok(expected.length > 0 || pattern === '', pattern);
      assert.deepEqual(compilePattern(pattern).filter(names), expected, pattern);
      assert.deepEqual(compilePattern(pattern).filter(names.map((n) => `${n}:0`)).map((n) => n.slice(0, -2)), expected, `${pattern} on name:0`);
    }
  });

  it('each config\'s stage selection (highres3dnet leakyrelu, 2 channels, 2 classes, Adam) is NiftyNet\'s', () => {
    const network = getNetwork(BRATS_NET.name).variables(BRATS_NET.params);
    const names = new Set(listing.map((v) => v.name));
    // NiftyNet's trainable variables are the ones its optimiser gave slots (this checkpoint was trained in full).
    const trainable = listing.map((v) => v.name).filter((n) => names.has(`${n}/Adam`));
    assert.equal(trainable.length, 63);
    const checkpoint = listing.map((v) => ({ name: v.name, dtype: 'float32', shape: v.shape }));
    for (const s of selections) {
      const stage: SelectionInput['stage'] = {
        name: path.basename(s.file, '.ini'), after: null, iterations: 1,
        vars_to_restore: s.vars_to_restore === null ? null : [s.vars_to_restore],
        vars_to_freeze: s.vars_to_freeze === null ? null : [s.vars_to_freeze],
        settings: { ...DEFAULT_SETTINGS, optimizer: 'adam', frozen_batch_norm: 'batch' },
        data: { kind: 'synthetic', task: 'A', spatial_size: [16, 16, 16] },
      };
      const result = selectVariables({ stage, stageIndex: 0, checkpoint, network, isRoot: true });
      const label = `${s.file}${s.commented ? ' (commented out)' : ''}: ${JSON.stringify(s)}`;
      assert.deepEqual(result.restorePatterns.concat(result.freezePatterns).filter((p) => p.error), [], label);
      // NiftyNet: trainable variables matched by vars_to_freeze, else by vars_to_restore, are not optimised.
      const freezeBy = s.vars_to_freeze ?? s.vars_to_restore!;
      const frozen = new Set(python[freezeBy].filter((n) => trainable.includes(n)));
      const trained = trainable.filter((n) => !frozen.has(n));
      assert.deepEqual([...result.selection.trained].sort(), trained.sort(), `trained, ${label}`);
      assert.deepEqual([...result.selection.frozen].sort(), [...frozen].sort(), `frozen, ${label}`);
      // The graph NiftyNet builds for it: the network, Adam slots of the trained variables, the powers; of that,
      // vars_to_restore (searched on name:0) or everything is restored.
      const graph = listing.map((v) => v.name).filter((n) => !isOptimizerState(n) || n.startsWith('ApplyGradients/') ||
        trained.some((t) => n === `${t}/Adam` || n === `${t}/Adam_1`));
      assert.deepEqual(result.graph.map((v) => v.name).sort(), [...graph].sort(), `graph, ${label}`);
      const restoreBy = s.vars_to_restore === null ? null : new Set(python[s.vars_to_restore]);
      assert.deepEqual(result.selection.restored.sort(), graph.filter((n) => !restoreBy || restoreBy.has(n)).sort(), `restored, ${label}`);
      assert.deepEqual(result.missing, [], label);
    }
  });

  it('thaw\'s graph of that network with everything trained is the listing: 317 names and shapes', () => {
    const network = getNetwork(BRATS_NET.name).variables(BRATS_NET.params);
    const stage: SelectionInput['stage'] = {
      name: 'all', after: null, iterations: 1, vars_to_restore: null, vars_to_freeze: [],
      settings: { ...DEFAULT_SETTINGS, optimizer: 'adam' }, data: { kind: 'synthetic', task: 'A', spatial_size: [16, 16, 16] },
    };
    const { graph, selection } = selectVariables({ stage, stageIndex: 0, checkpoint: null, network, isRoot: true });
    assert.equal(selection.trained.length, 63);
    const describeAll = (vs: { name: string; shape: number[] }[]) => vs.map((v) => `${v.name} [${v.shape.join(', ')}]`).sort();
    assert.equal(graph.length, 317);
    assert.deepEqual(describeAll(graph), describeAll(listing));
  });
});

describe('a thaw stage from the prostate checkpoint, frozen with a BraTS regex, restored by NiftyNet\'s own graph', () => {
  it('NiftyNet\'s Saver restores all 317 variables of thaw\'s checkpoint, frozen ones unchanged, and its forward pass runs', async () => {
    const dir = path.join(root, 'stage');
    await cp(prostateDir, dir, { recursive: true });
    const file = path.join(dir, 'stage.yaml');
    const stageYaml = [
      '  - name: head',
      '    iterations: 2',
      '    batch_size: 1',
      '    save_every_n: 2',
      `    vars_to_freeze: '${BRATS_FREEZE}'`,
    ].join('\n');
    await writeFile(file, pipelineYaml({ name: 'brats-head', network: PROSTATE_NET, startingIter: 19500, stage: stageYaml, seed: 5 }));

    // The stage as the workflow runs it: the plan, preflight's selection, then the stage runner.
    const plan = await loadPipeline(file);
    const report = await checkPlan(plan);
    assert.deepEqual(report.errors, []);
    const [checked] = report.stages;
    const stage = plan.stages[0];
    const { selection } = checked;
    assert.equal(selection.trained.length, 24, selection.trained.join('\n')); // res_3_0..2 (6 each), conv_1, conv_2 (3 each)
    assert.ok(selection.trained.every((n) => /^HighRes3DNet\/(res_3|conv_1|conv_2)/.test(n)));
    const req: StageRunRequest = {
      modelDir: stage.checkpoint_dir ?? plan.model_dir, restoreFrom: checked.restoreFrom, stage: stage.name,
      startIteration: checked.startIteration, endIteration: checked.endIteration, selection, network: plan.network,
      data: stage.data, settings: stage.settings, seed: plan.seed, backend: plan.backend, pipelineHash: plan.hash,
      baseDir: path.dirname(plan.source_file),
    };
    const result = await runStage(req, { onLog: () => {} });
    assert.equal(result.endIteration, 19502);
    const thawPrefix = path.join(dir, 'models', 'model.ckpt-19502');
    assert.equal(result.checkpoint, thawPrefix);
    assert.equal((await listVariables(thawPrefix)).length, 317, 'the frozen variables\' Adam slots are carried');

    // NiftyNet's graph: restore (network variables, then all), what changed, its forward pass on 2 volumes.
    const rng = testStream(5, 9);
    const images = Float32Array.from({ length: 2 * 16 ** 3 }, () => rng.normal());
    const input = writeArray(path.join(dir, 'input.raw'), images, [2, 16, 16, 16, 1]);
    const output = path.join(dir, 'niftynet-logits.raw');
    const nn = JSON.parse(await runPython('niftynet_fixtures.py', [
      'niftynet', path.join(PROSTATE, 'models', 'model.ckpt-19500.meta'), path.join(prostateDir, 'models', 'model.ckpt-19500'),
      thawPrefix, input.file, output,
    ])) as { global: number; network: number; changed: string[]; output_shape: number[]; finite: boolean };
    assert.equal(nn.network, 189);
    assert.equal(nn.global, 317);
    const changed = new Set(nn.changed);
    const unchangedButTrained = selection.trained.filter((n) => !changed.has(n));
    assert.deepEqual(unchangedButTrained, [], 'trained variables that did not change');
    const frozenSlots = selection.frozen.flatMap((n) => [`${n}/Adam`, `${n}/Adam_1`]).filter((n) => checked.carried.includes(n));
    assert.equal(frozenSlots.length, 2 * 39, 'the frozen variables\' Adam slots are carried from the stand-in');
    const changedButFrozen = [...selection.frozen, ...frozenSlots].filter((n) => changed.has(n));
    assert.deepEqual(changedButFrozen, [], 'frozen variables (or their carried slots) that changed');
    assert.ok(selection.trained.every((n) => changed.has(`${n}/Adam`) && changed.has(`${n}/Adam_1`)));
    assert.ok(changed.has('ApplyGradients/beta1_power') && changed.has('ApplyGradients/beta2_power'));
    assert.deepEqual(nn.output_shape, [2, 16, 16, 16, 2]);
    assert.ok(nn.finite);

    // NiftyNet's 2019 graph computes what thaw computes on thaw's weights (training mode, batch statistics).
    const reader = await CheckpointReader.open(thawPrefix);
    const values = new Map<string, Float32Array>();
    try {
      for (const v of getNetwork(PROSTATE_NET.name).variables(PROSTATE_NET.params)) {
        values.set(v.name, (await reader.read(v.name)).data as Float32Array);
      }
    } finally {
      await reader.close();
    }
    const { tf } = await loadBackend('tensorflow');
    const ours = thawForward(tf, { network: PROSTATE_NET.name, params: PROSTATE_NET.params, size: [16, 16, 16] }, values, images, true, null);
    const { diff } = relativeMaxDiff(ours, readFloat32(output));
    assert.ok(diff <= 1e-4, `thaw's forward pass differs from NiftyNet's graph by ${diff} of the output scale`);
  });
});

describe('nonewnet-lfs-pointer-shard (a data shard that is a Git LFS pointer)', () => {
  let dir: string;
  const shard = () => path.join(dir, 'models', 'model.ckpt-92000.data-00000-of-00001');
  const lfsLine = (text: string) => {
    const lines = text.split('\n').filter((l) => l.includes('Git LFS pointer'));
    assert.equal(lines.length, 1, text);
    assert.ok(lines[0].includes(shard()), `names the file: ${lines[0]}`);
    assert.match(lines[0], /is a Git LFS pointer \(a 134-byte text file\), not the checkpoint data/);
    assert.match(lines[0], /`git lfs pull`/);
    return lines[0];
  };

  before(async () => {
    dir = path.join(root, 'nonewnet');
    await mkdir(dir);
    await copyFixture(path.join(LFS, 'models'), path.join(dir, 'models'));
    const stage = '  - name: finetune\n    iterations: 2';
    const network = { name: 'no_new_net', params: { activation_function: 'prelu', num_classes: 2 } };
    await writeFile(path.join(dir, 'exact.yaml'), pipelineYaml({ name: 'lfs-exact', network, startingIter: 92000, stage }));
    await writeFile(path.join(dir, 'latest.yaml'), pipelineYaml({ name: 'lfs-latest', network, startingIter: -1, stage }));
  });

  it('thaw vars lists the 221 variables (the index is real)', async () => {
    const { code, stdout, stderr } = await runCli(['vars', path.join(dir, 'models'), '--json']);
    assert.equal(code, 0, stderr);
    assert.equal((JSON.parse(stdout) as unknown[]).length, 221);
  });

  it('thaw check (starting_iter 92000 and -1) and thaw diff fail with one line: an LFS pointer, `git lfs pull`, the file', async () => {
    const diffRun = runCli(['diff', path.join(dir, 'models'), path.join(dir, 'models')]);
    const exact = await runInProcess(checkCommand, [path.join(dir, 'exact.yaml')]);
    const latest = await runInProcess(checkCommand, [path.join(dir, 'latest.yaml')]);
    const diff = await diffRun;
    assert.equal(exact.code, 1, exact.printed);
    assert.match(lfsLine(exact.printed), /^error: .*exact\.yaml:\d+:\d+: starting_iter 92000: /);
    assert.equal(latest.code, 1, latest.printed);
    assert.match(lfsLine(latest.printed), /^error: .*latest\.yaml:\d+:\d+: starting_iter -1: .* has no usable checkpoint: model\.ckpt-92000 is not usable/);
    assert.equal(diff.code, 1, diff.stdout + diff.stderr);
    assert.equal(diff.stderr.trim().split('\n').length, 1, diff.stderr);
    assert.match(lfsLine(diff.stderr), /^thaw diff: /);
  });
});
