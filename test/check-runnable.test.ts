/**
 * `thaw check` says "runnable" only where `thaw run` can run: model_dir that cannot hold checkpoints, storage it
 * cannot reach, iteration counts beyond the documented bound, data the network cannot take, data that is not there.
 * Every problem carries line:column. And the check stays linear in the number of stages, up to a documented limit.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makePreflight } from '../activities/preflight';
import { MAX_ITERATIONS, MAX_STAGES } from '../lib/pipeline/limits';
import { loadPipeline, parsePipeline } from '../lib/pipeline/load';
import { topologicalOrder, type StageLink } from '../lib/pipeline/dag';
import { pipelineSchema } from '../lib/pipeline/schema';
import type { PreflightReport } from '../lib/selection/preflight';
import { runMainInProcess, type CliResult } from './helpers/cli';
import { REPO_ROOT } from './helpers/python';

const BASE = `name: demo
network: {name: toynet, params: {dims: 2, hidden_features: 4}}
data: {kind: synthetic, task: A, spatial_size: [8, 8]}
stages:
  - name: a
    iterations: 10
`;

let dir: string;
const file = (name: string) => path.join(dir, `${name}.yaml`);

async function check(name: string, text: string, ...flags: string[]): Promise<CliResult> {
  await writeFile(file(name), text);
  return runMainInProcess(['check', file(name), ...flags]);
}

/** The single `error:` line of a check that failed (exit 1), its Fix line included. */
async function oneError(name: string, text: string): Promise<string> {
  const { code, stdout, stderr } = await check(name, text);
  assert.equal(code, 1, stdout + stderr);
  const blocks = stdout.split('\n\n').filter((b) => b.startsWith('error: '));
  assert.equal(blocks.length, 1, stdout);
  assert.doesNotMatch(stdout, /\n\s+at .*:\d+:\d+/);
  return blocks[0];
}

const withModelDir = (value: string) => BASE.replace('name: demo\n', `name: demo\nmodel_dir: ${value}\n`);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'thaw-check-runnable-'));
});

after(async () => {
  await chmod(path.join(dir, 'ro'), 0o755).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('model_dir that thaw run could not use', () => {
  it('a file, /dev/null, a folder under /proc: exit 1 at model_dir, with the fix', async () => {
    await writeFile(path.join(dir, 'afile'), 'x');
    assert.match(await oneError('file', withModelDir('./afile')),
      /^error: .*file\.yaml:2:12: model_dir: .*\/afile is a file, not a folder\n {2}Fix: set model_dir to a folder you can write to/);
    assert.match(await oneError('sub-of-file', withModelDir('./afile/run')), /:2:12: model_dir: .*afile\/run cannot be created: .*afile is a file, not a folder/);
    assert.match(await oneError('devnull', withModelDir('/dev/null')), /:2:12: model_dir: \/dev\/null is a character device, not a folder/);
    assert.match(await oneError('proc', withModelDir('/proc/thaw-run')), /:2:12: model_dir: \/proc\/thaw-run: its folder \/proc takes no new folders/);
  });

  it('a model_dir that is a file, or under one: the preflight activity reports it as thaw check does', async () => {
    await writeFile(path.join(dir, 'bfile'), 'x');
    for (const [name, modelDir] of [['same-file', './bfile'], ['same-under-file', './bfile/run']]) {
      const { code, stdout, stderr } = await check(name, withModelDir(modelDir), '--json');
      assert.equal(code, 1, stdout + stderr);
      const checked = JSON.parse(stdout) as PreflightReport;
      const activity = await makePreflight()(await loadPipeline(file(name)));
      assert.equal(activity.ok, false);
      // thaw check adds where the field is in the file (line:column); the rest is the same problem.
      const unlocated = checked.errors.map(({ line, column, ...p }) => ({ ...p, message: p.message.replace(`${file(name)}:${line}:${column}:`, `${file(name)}:`) }));
      assert.deepEqual(activity.errors, unlocated);
      assert.deepEqual(activity.errors.map((p) => [p.code, p.field]), [['ModelDir', 'model_dir']]);
      assert.match(activity.errors[0].message, /bfile(\/run cannot be created: .*bfile)? is a file, not a folder\n {2}Fix: set model_dir to a folder you can write to/);
    }
  });

  it('a NUL byte, 5,000 characters, a 300-byte folder name: refused by the loader', async () => {
    assert.match(await oneError('nul', withModelDir('"./run\\0x"')), /:2:12: model_dir: contains a NUL character/);
    assert.match(await oneError('long', withModelDir(`./${'x'.repeat(5000)}`)), /:2:12: model_dir: is \d+ bytes long as an absolute path, more than 800/);
    assert.match(await oneError('segment', withModelDir(`./${'x'.repeat(300)}/run`)), /:2:12: model_dir: has a folder name of 300 bytes, more than the 255/);
  });

  it('a read-only folder (checked as an unprivileged user when the tests run as root)', { timeout: 30_000 }, async (t) => {
    await mkdir(path.join(dir, 'ro'));
    await writeFile(file('readonly'), withModelDir('./ro/run'));
    await chmod(path.join(dir, 'ro'), 0o555);
    let result: CliResult;
    if (process.getuid?.() === 0) {
      await chmod(dir, 0o755);
      await chmod(file('readonly'), 0o644);
      // Root writes anywhere: the check runs as "nobody", which must be able to read the sources.
      const probe = spawnSync(process.execPath, ['-e', `require('fs').readFileSync(${JSON.stringify(path.join(REPO_ROOT, 'app', 'cli', 'main.ts'))})`], { uid: 65534, gid: 65534 });
      if (probe.status !== 0) {
        t.skip('running as root, and the repository is not readable by an unprivileged user');
        return;
      }
      result = await new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'app', 'cli', 'main.ts'), 'check', file('readonly')], {
          cwd: REPO_ROOT, uid: 65534, gid: 65534, env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    } else {
      result = await runMainInProcess(['check', file('readonly')]);
    }
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /readonly\.yaml:2:12: model_dir: .*\/ro\/run: its folder .*\/ro may not be written by this user \(EACCES\)/);
  });

  it('an s3:// model_dir without credentials: the storage check of the preflight activity', { timeout: 30_000 }, async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
    });
    try {
      assert.match(await oneError('s3', withModelDir('s3://thaw-test-bucket/run')),
        /:2:12: model_dir: s3:\/\/thaw-test-bucket\/run: no S3 credentials were found .*\n {2}Fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('unknown URL schemes are refused; ~/ is the home folder; ~user is refused', async () => {
    assert.match(await oneError('gs', withModelDir('gs://bucket/x')),
      /:2:12: model_dir: gs:\/\/ is not a storage thaw knows: give a local path or an s3:\/\/bucket\/prefix URL \(for Google Cloud Storage/);
    assert.match(await oneError('http', withModelDir('https://example.com/x')), /model_dir: https:\/\/ is not a storage thaw knows/);
    assert.match(await oneError('tilde-user', withModelDir('~bob/x')), /model_dir: "~bob\/x": only ~ and ~\/… \(your home folder\) are expanded/);
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      await writeFile(file('tilde'), withModelDir('~/runs/x'));
      assert.equal((await loadPipeline(file('tilde'))).model_dir, path.join(dir, 'runs', 'x'));
      assert.equal((await runMainInProcess(['check', file('tilde')])).code, 0);
    } finally {
      process.env.HOME = home;
    }
    assert.equal(parsePipeline(withModelDir('file:///srv/runs/x'), file('url')).model_dir, '/srv/runs/x');
  });
});

describe('iterations: integers within the documented bound', () => {
  it(`1e30 and 9007199254740993 are refused at the field; at most ${MAX_ITERATIONS}`, async () => {
    assert.match(await oneError('1e30', BASE.replace('iterations: 10', 'iterations: 1e30')), /:6:17: stages\[0\]\.iterations: 1e30 is beyond the numbers a pipeline holds exactly/);
    assert.match(await oneError('2^53+1', BASE.replace('iterations: 10', 'iterations: 9007199254740993')), /:6:17: stages\[0\]\.iterations: 9007199254740993 is beyond/);
    assert.match(await oneError('2e9', BASE.replace('iterations: 10', 'iterations: 2000000000')), /:6:17: stages\[0\]\.iterations: must be <= 1000000000 \(got 2000000000\)/);
    assert.match(await oneError('start', `${BASE}starting_iter: 1000000001\n`), /:7:16: starting_iter: must be <= 1000000000/);
    assert.equal((await check('max', BASE.replace('iterations: 10', `iterations: ${MAX_ITERATIONS}`))).code, 0);
  });

  it('the schema says the same bounds as lib/pipeline/limits.ts', () => {
    const s = pipelineSchema as unknown as {
      properties: { stages: { maxItems: number }; starting_iter: { maximum: number } };
      $defs: { stage: { properties: { iterations: { maximum: number } } } };
    };
    assert.equal(s.properties.stages.maxItems, MAX_STAGES);
    assert.equal(s.properties.starting_iter.maximum, MAX_ITERATIONS);
    assert.equal(s.$defs.stage.properties.iterations.maximum, MAX_ITERATIONS);
  });
});

describe('data the network cannot take, data that is not there', () => {
  it('3-D data on a 2-D network, at the data', async () => {
    assert.match(await oneError('3d', BASE.replace('spatial_size: [8, 8]', 'spatial_size: [8, 8, 8]')),
      /:3:48: stage "a": stages\[0\]\.data\.spatial_size: the data is 3-D \(spatial_size \[8, 8, 8\]\) but network toynet is 2-D/);
  });

  it('a spatial size the network cannot take (highres3dnet: divisible by 8; unet: its own rule), reported once for the stages sharing it', async () => {
    const hr = BASE.replace('{name: toynet, params: {dims: 2, hidden_features: 4}}', '{name: highres3dnet, params: {dims: 3}}')
      .replace('[8, 8]', '[12, 12, 12]');
    assert.match(await oneError('hr', `${hr}  - {name: b, iterations: 1}\n`),
      /:3:48: stage "a": stages\[0\]\.data\.spatial_size: spatial_size \[12, 12, 12\] does not fit network highres3dnet: highres3dnet needs every spatial size divisible by 8, got \[12, 12, 12\] \(also the data of stage b\)/);
    const unet = BASE.replace('{name: toynet, params: {dims: 2, hidden_features: 4}}', '{name: unet, params: {dims: 3}}').replace('[8, 8]', '[32, 32, 32]');
    assert.match(await oneError('unet', unet), /spatial_size \[32, 32, 32\] does not fit network unet: unet needs spatial sizes/);
  });

  it('a stage override is reported at the stage; an unknown synthetic task; a NIfTI glob that matches nothing', async () => {
    const override = `${BASE}  - {name: b, iterations: 1, data: {spatial_size: [8, 8, 8]}}\n`;
    assert.match(await oneError('override', override), /:7:51: stage "b": stages\[1\]\.data\.spatial_size: the data is 3-D/);
    assert.match(await oneError('task', BASE.replace('task: A', 'task: Q')), /:3:31: stage "a": stages\[0\]\.data\.task: unknown synthetic task 'Q'/);
    const nifti = BASE.replace('{kind: synthetic, task: A, spatial_size: [8, 8]}', '{kind: nifti, images: "scans/*.nii.gz", spatial_size: [8, 8]}');
    assert.match(await oneError('nifti', nifti), /:3:29: stage "a": stages\[0\]\.data\.images: no NIfTI images match '.*\/scans\/\*\.nii\.gz'/);
  });
});

describe('every problem has line:column', () => {
  it('empty file, unknown network, bad network params, a regex error, a missing starting checkpoint', async () => {
    assert.match(await oneError('empty', ''), /^error: .*empty\.yaml:1:1: the file is empty/);
    assert.match(await oneError('comments', '# nothing yet\n'), /^error: .*comments\.yaml:1:1: the file is empty/);
    assert.match(await oneError('network', BASE.replace('name: toynet', 'name: toynett')), /^error: .*network\.yaml:2:17: network\.name: unknown network "toynett"/);
    assert.match(await oneError('params', BASE.replace('hidden_features: 4', 'hidden_features: -4')), /^error: .*params\.yaml:2:60: network toynet: params\.hidden_features must be an integer >= 1, got -4/);
    assert.match(await oneError('regex', BASE.replace('iterations: 10', 'iterations: 10\n    vars_to_freeze: [conv_input, "(unclosed"]')),
      /^error: .*regex\.yaml:7:34: stages\[0\]\.vars_to_freeze\[1\]: bad regular expression: missing \), unterminated subpattern/);
    assert.match(await oneError('start', `${BASE}starting_iter: 7\n`), /^error: .*start\.yaml:7:16: starting_iter 7: checkpoint .*model\.ckpt-7 does not exist/);
  });

  it('--json gives line and column, and fields numbered as in the file when stages are reordered', async () => {
    const text = BASE.replace('  - name: a\n    iterations: 10\n', '  - {name: b, iterations: 1, after: a, vars_to_freeze: "(x"}\n  - {name: a, iterations: 1, after: null}\n');
    const { code, stdout } = await check('json', text, '--json');
    assert.equal(code, 1);
    const report = JSON.parse(stdout) as PreflightReport;
    assert.deepEqual(report.errors.map((e) => [e.code, e.field, e.line, e.column]), [['PatternError', 'stages[0].vars_to_freeze[0]', 5, 56]]);
    assert.match(report.errors[0].message, /json\.yaml:5:56: stages\[0\]\.vars_to_freeze\[0\]: bad regular expression/);
  });
});

describe('many stages: linear, and limited', () => {
  const links = (n: number, shape: 'chain' | 'fork'): StageLink[] =>
    Array.from({ length: n }, (_, i) => ({ name: `s${i}`, after: i === 0 ? null : shape === 'chain' ? `s${i - 1}` : 's0' }));

  /** Reads of the stages array by topologicalOrder (a find per placed stage read n²/2 before). */
  function reads(stages: StageLink[]): number {
    let count = 0;
    const counted = new Proxy(stages, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) count++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const result = topologicalOrder(counted);
    assert.ok('order' in result);
    return count;
  }

  it('stage ordering reads each stage once, however the stages are ordered in the file', () => {
    for (const n of [1000, 8000]) {
      for (const shape of ['chain', 'fork'] as const) {
        assert.equal(reads(links(n, shape)), n);
        assert.equal(reads(links(n, shape).reverse()), n);
      }
    }
    const reversed = topologicalOrder(links(5, 'chain').reverse());
    assert.deepEqual(reversed, { order: [4, 3, 2, 1, 0] });
    assert.deepEqual(topologicalOrder([{ name: 'a', after: 'b' }, { name: 'b', after: 'a' }, { name: 'c', after: null }]), { cycle: ['a', 'b', 'a'] });
  });

  const pipeline = (n: number, after: (i: number) => string) =>
    `name: many\nnetwork: {name: toynet, params: {dims: 2, hidden_features: 4}}\ndata: {kind: synthetic, task: A, spatial_size: [8, 8]}\nstages:\n${Array.from(
      { length: n }, (_, i) => `  - {name: s${i}, iterations: 10, vars_to_freeze: ['^ToyNet/conv_input']${after(i)}}`).join('\n')}\n`;

  it(`${MAX_STAGES} stages (a chain and a fork) check fine`, { timeout: 60_000 }, async () => {
    for (const [name, after] of [['chain', () => ''], ['fork', (i: number) => (i === 0 ? '' : ', after: s0')]] as const) {
      const { code, stdout } = await check(`allowed-${name}`, pipeline(MAX_STAGES, after));
      assert.equal(code, 0, stdout.slice(-2000));
      assert.match(stdout, new RegExp(`runnable \\(${MAX_STAGES} stages, 1 warning\\)\\n$`));
    }
  });

  it(`${MAX_STAGES + 1} stages and a 5 MB file of 60,000 stages: one line each`, { timeout: 30_000 }, async () => {
    assert.match(await oneError('too-many', pipeline(MAX_STAGES + 1, () => '')),
      /^error: .*too-many\.yaml:4:1: stages: 1001 stages, more than thaw runs in one pipeline \(1000\): split the schedule into several pipelines$/);
    const big = pipeline(60_000, () => ', lr: 0.001, batch_size: 4');
    assert.ok(big.length > 5_000_000);
    assert.match(await oneError('huge', big), /^error: .*huge\.yaml: the pipeline is 5\.\d MiB, more than thaw reads \(1\.0 MiB\)\n {2}Fix: keep a pipeline under 1\.0 MiB and 1000 stages/);
  });

  it('schema errors in many stages: at most 100 listed, the rest counted; oneOf errors stay with their stage', async () => {
    const bad = `name: many\nnetwork: toynet\nstages:\n${Array.from({ length: 300 }, (_, i) => `  - {name: s${i}, iterations: 1, vars_to_freeze: 3}`).join('\n')}\n`;
    const { code, stdout } = await check('many-bad', bad);
    assert.equal(code, 1);
    const errors = stdout.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 101);
    assert.match(errors[0], /many-bad\.yaml:4:47: stages\[0\]\.vars_to_freeze: must be a regex \(string\) or a list of regexes/);
    assert.match(errors[100], /and 200 more problems like these \(after line 103\)/);
    const mixed = `${BASE}  - {name: b, iterations: 1, vars_to_freeze: 3}\n  - {name: c, iterations: 1, vars_to_restore: [a, 1]}\n`;
    const out = (await check('mixed', mixed)).stdout.split('\n').filter((l) => l.startsWith('error:'));
    assert.deepEqual(out.map((l) => l.replace(/^error: [^:]*:/, '')), [
      '7:46: stages[1].vars_to_freeze: must be a regex (string) or a list of regexes ([] selects nothing) (got 3)',
      '8:51: stages[2].vars_to_restore[1]: must be string (got 1)',
    ]);
  });
});
