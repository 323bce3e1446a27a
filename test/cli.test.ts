/**
 * The CLI's own manners (issue 15): `thaw --version` from a clone and from the installed layout, "did you mean" for
 * commands and flags, `thaw help <command>`, every flag of every command described, and `thaw vars <folder>` saying
 * which checkpoint it listed and why. Through the real dispatcher (app/cli/main.ts), in this process where it can be.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { checkpointPrefix, dataFile, writeCheckpoint, type Tensor } from '../lib/checkpoint';
import { parseCommandArgs, type Command } from '../app/cli/command';
import { runMainInProcess } from './helpers/cli';
import { REPO_ROOT } from './helpers/python';

const exec = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS_DIR = path.join(REPO_ROOT, 'app', 'cli', 'commands');

/** Every Command exported by a file of app/cli/commands/, found from the folder (not from main.ts's list). */
async function everyCommand(): Promise<Command[]> {
  const found: Command[] = [];
  for (const file of readdirSync(COMMANDS_DIR).filter((f) => f.endsWith('.ts')).sort()) {
    const module = (await import(path.join(COMMANDS_DIR, file))) as Record<string, unknown>;
    const commands = Object.values(module).filter((v): v is Command => typeof v === 'object' && v !== null && 'usage' in v && 'run' in v);
    assert.equal(commands.length, 1, `${file} exports one Command`);
    found.push(commands[0]);
  }
  return found;
}

/** The long flags a text names: `--output FILE`, `[--concurrency N | --gpus N]`, `--verbose, -v`. */
const longFlags = (text: string) => [...text.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]);

describe('thaw --version', () => {
  it('prints package.json\'s version, -V too, from the sources in this process', async () => {
    for (const flag of ['--version', '-V']) {
      assert.deepEqual(await runMainInProcess([flag]), { code: 0, stdout: `thaw ${VERSION}\n`, stderr: '' }, flag);
    }
  });

  it('from a clone, run as bin/thaw.js from another folder', async () => {
    const { stdout } = await exec(process.execPath, [path.join(REPO_ROOT, 'bin', 'thaw.js'), '--version'], { cwd: os.tmpdir() });
    assert.equal(stdout, `thaw ${VERSION}\n`);
  });

  it('from the installed layout (node_modules/thaw/dist/app/cli, compiled): the installed package\'s version', async (t) => {
    const project = mkdtempSync(path.join(os.tmpdir(), 'thaw-version-'));
    t.after(() => rmSync(project, { recursive: true, force: true }));
    const installed = path.join(project, 'node_modules', 'thaw');
    mkdirSync(installed, { recursive: true });
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'team-project', version: '1.0.0' }));
    writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ name: 'thaw', version: '9.8.7' }));
    await exec(process.execPath, [require.resolve('typescript/bin/tsc'), path.join(REPO_ROOT, 'app', 'cli', 'version.ts'),
      '--outDir', path.join(installed, 'dist'), '--rootDir', REPO_ROOT, '--module', 'commonjs', '--target', 'es2022',
      '--esModuleInterop', '--skipLibCheck', '--types', 'node'], { cwd: REPO_ROOT });
    const script = `console.log(require(${JSON.stringify(path.join(installed, 'dist', 'app', 'cli', 'version.js'))}).thawVersion())`;
    const { stdout } = await exec(process.execPath, ['-e', script], { cwd: project });
    assert.equal(stdout.trim(), '9.8.7');
  });
});

describe('did you mean', () => {
  it('an unknown command: one line with the closest command, one hint, exit 2', async () => {
    const { code, stdout, stderr } = await runMainInProcess(['chek']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, 'thaw: unknown command "chek" — did you mean "check"?\n' +
      'Run "thaw --help" for the list of commands, "thaw check --help" for that one\'s options.\n');
    const far = await runMainInProcess(['frobnicate']);
    assert.equal(far.code, 2);
    assert.equal(far.stderr, 'thaw: unknown command "frobnicate"\nRun "thaw --help" for the list of commands.\n');
  });

  it('an unknown flag of a command, and an unknown option before any command', async () => {
    const check = await runMainInProcess(['check', '--jsn', 'p.yaml']);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /^thaw check: Unknown option '--jsn' — did you mean "--json"\?\nUsage: thaw check /);
    const vars = await runMainInProcess(['vars', 'x', '--outpt', 'f']);
    assert.match(vars.stderr, /^thaw vars: Unknown option '--outpt' — did you mean "--output"\?\n/);
    const top = await runMainInProcess(['--verison']);
    assert.equal(top.code, 2);
    assert.match(top.stderr, /^thaw: unknown option "--verison" — did you mean "--version"\?\n/);
  });

  it('no near flag: the flags the command takes', () => {
    assert.throws(() => parseCommandArgs(['--colour'], { json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' } }),
      { message: 'Unknown option \'--colour\' (it takes --json, --verbose, -v; a value starting with "-" goes after "--")' });
  });
});

describe('thaw help', () => {
  it('help <command> prints that command\'s help, as <command> --help does', async () => {
    const help = await runMainInProcess(['help', 'check']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: thaw check <pipeline\.yaml> \[--json\] \[--verbose\]\n/);
    assert.deepEqual(await runMainInProcess(['check', '--help']), help);
    assert.notDeepEqual(help, await runMainInProcess(['help']));
  });

  it('help of a command that does not exist is a usage error', async () => {
    const nope = await runMainInProcess(['help', 'nope']);
    assert.equal(nope.code, 2);
    assert.equal(nope.stdout, '');
    assert.equal(nope.stderr, 'thaw help: unknown command "nope"\nRun "thaw --help" for the list of commands.\n');
    assert.match((await runMainInProcess(['help', 'stauts'])).stderr, /^thaw help: unknown command "stauts" — did you mean "status"\?/);
    assert.equal((await runMainInProcess(['help', 'check', 'vars'])).code, 2);
  });

  it('every flag in a command\'s usage has a description, each described flag is in the usage, and --help prints them', async () => {
    const commands = await everyCommand();
    assert.ok(commands.length >= 11);
    for (const command of commands) {
      const described = (command.flags ?? []).map(([flag]) => flag);
      for (const [flag, description] of command.flags ?? []) {
        assert.ok(description.trim().length > 0, `thaw ${command.name} ${flag}: an empty description`);
        assert.ok(longFlags(flag).every((f) => longFlags(command.usage).includes(f)), `thaw ${command.name}: ${flag} is not in its usage`);
      }
      for (const flag of longFlags(command.usage)) {
        assert.ok(described.some((d) => longFlags(d).includes(flag)), `thaw ${command.name}: ${flag} (in its usage) has no description in flags`);
      }
      const { code, stdout } = await runMainInProcess([command.name, '--help']);
      assert.equal(code, 0);
      for (const [flag, description] of command.flags ?? []) assert.ok(stdout.includes(`${flag}  `) && stdout.includes(description), `${command.name} --help: ${flag}`);
    }
  });

  it('the global help lists every command of app/cli/commands/', async () => {
    const { code, stdout } = await runMainInProcess(['--help']);
    assert.equal(code, 0);
    for (const command of await everyCommand()) {
      assert.match(stdout, new RegExp(`^  thaw ${command.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), command.name);
    }
  });
});

describe('thaw vars <folder> says which checkpoint it listed', () => {
  const f32 = (fill: number): Tensor => ({ dtype: 'float32', shape: [2], data: new Float32Array(2).fill(fill) });
  const modelDir = mkdtempSync(path.join(os.tmpdir(), 'thaw-vars-which-'));
  const models = path.join(modelDir, 'models');
  after(() => rmSync(modelDir, { recursive: true, force: true }));
  const state = (name: string) => writeFileSync(path.join(models, 'checkpoint'), `model_checkpoint_path: "${name}"\nall_model_checkpoint_paths: "${name}"\n`);
  const firstLine = async (...args: string[]) => {
    const { code, stdout, stderr } = await runMainInProcess(['vars', ...args]);
    assert.equal(code, 0, stderr);
    return { line: stdout.split('\n')[0], stderr };
  };

  it('the state file\'s latest, the newest complete one without it, and past an incomplete one', async () => {
    for (const iteration of [2, 4, 6]) await writeCheckpoint(checkpointPrefix(modelDir, iteration), new Map([['w', f32(iteration)]]));
    state('model.ckpt-4');
    const stateFile = path.join(models, 'checkpoint');
    assert.equal((await firstLine(modelDir)).line, `checkpoint: ${checkpointPrefix(modelDir, 4)} (the latest one per ${stateFile})`);
    assert.equal((await firstLine(models)).line, `checkpoint: ${checkpointPrefix(modelDir, 4)} (the latest one per ${stateFile})`);

    unlinkSync(stateFile);
    assert.equal((await firstLine(modelDir)).line, `checkpoint: ${checkpointPrefix(modelDir, 6)} (the newest complete one in ${models}, which has no checkpoint state file)`);

    // model.ckpt-6 loses its data shard: not complete, so model.ckpt-4; the state file names one that is gone.
    unlinkSync(dataFile(checkpointPrefix(modelDir, 6), 0, 1));
    state('model.ckpt-9');
    assert.equal((await firstLine(modelDir)).line, `checkpoint: ${checkpointPrefix(modelDir, 4)} (the newest complete one in ${models}: ` +
      `${stateFile} names ${path.join(models, 'model.ckpt-9')}, which has no .index)`);

    // --json stays TensorFlow's listing on stdout; the line goes to stderr. A prefix names itself: no line.
    const json = await runMainInProcess(['vars', modelDir, '--json']);
    assert.deepEqual(JSON.parse(json.stdout), [{ name: 'w', dtype: 'float32', shape: [2] }]);
    assert.match(json.stderr, /^checkpoint: .*model\.ckpt-4 \(the newest complete one/);
    assert.match((await firstLine(checkpointPrefix(modelDir, 2))).line, /^name\s+dtype/);
  });
});

describe('thaw worker', () => {
  it('without TEMPORAL_ADDRESS or a profile says what to set, in one message with its fix, and exits 1', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
    const failed = await exec(process.execPath, [path.join(REPO_ROOT, 'bin', 'thaw.js'), 'worker'], { cwd: os.tmpdir(), env }).then(
      () => assert.fail('thaw worker started without a server'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^thaw worker: no Temporal server to connect to: TEMPORAL_ADDRESS \(or TEMPORAL_PROFILE\) is not set\n {2}Fix: start `thaw server` and set TEMPORAL_ADDRESS/);
    assert.doesNotMatch(failed.stderr, /internal error|\n\s+at /);
  });
});
