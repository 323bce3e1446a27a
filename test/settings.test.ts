/**
 * lib/settings.ts: every THAW_* variable's default, the spellings each accepts, a one-line UserError naming the
 * variable for each malformed value, and that nothing else in lib/ reads THAW_* from the environment.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { isUserError } from '../lib/errors';
import { readSettings, THAW_VARIABLES, type ThawVariable } from '../lib/settings';
import { sourceFiles } from './helpers/sources';

const REPO = path.join(__dirname, '..');
const MiB = 2 ** 20;
const home = os.homedir();

/** Settings from exactly these variables (nothing of this process' environment). */
const settingsOf = (vars: Partial<Record<ThawVariable | 'XDG_STATE_HOME', string>>) => readSettings(vars);

test('defaults: every variable unset', () => {
  assert.deepEqual(settingsOf({}), {
    state: { stateDir: undefined, stateHome: path.join(home, '.local', 'state', 'thaw') },
    training: {
      engine: undefined, backend: undefined, xla: undefined, intraOpThreads: 0, interOpThreads: 0, tfPackageDir: undefined, dataCacheMb: 1024,
    },
    storage: {
      s3PartSize: 16 * MiB, s3TimeoutMs: 120_000, s3ForcePathStyle: undefined,
      cacheDir: path.join(home, '.cache', 'thaw', 's3'), cacheMaxBytes: 20 * 2 ** 30, localRunsDir: path.join(home, '.cache', 'thaw', 'runs'),
    },
    temporalCli: undefined,
  });
});

test('an empty variable is unset (blank too, where the old parser trimmed)', () => {
  const empty = Object.fromEntries(Object.keys(THAW_VARIABLES).map((name) => [name, ''])) as Record<ThawVariable, string>;
  assert.deepEqual(settingsOf(empty), settingsOf({}));
  const blank = { THAW_ENGINE: ' ', THAW_BACKEND: ' ', THAW_XLA: ' ', THAW_INTRA_OP_THREADS: ' ', THAW_TF_PACKAGE_DIR: ' ', THAW_S3_PART_SIZE: ' ' };
  assert.deepEqual(settingsOf(blank), settingsOf({}));
});

test('state folders: THAW_STATE_DIR and THAW_STATE_HOME resolved; XDG_STATE_HOME/thaw when THAW_STATE_HOME is unset', () => {
  assert.deepEqual(settingsOf({ THAW_STATE_DIR: 'rel/state', THAW_STATE_HOME: '/srv/thaw' }).state, { stateDir: path.resolve('rel/state'), stateHome: '/srv/thaw' });
  assert.equal(settingsOf({ XDG_STATE_HOME: '/xdg' }).state.stateHome, '/xdg/thaw');
  assert.equal(settingsOf({ XDG_STATE_HOME: '/xdg', THAW_STATE_HOME: '/mine' }).state.stateHome, '/mine');
});

test('training: engines, backends, XLA switch spellings, thread counts, TensorFlow folder, data cache', () => {
  for (const engine of ['auto', 'graph', 'tfjs'] as const) assert.equal(settingsOf({ THAW_ENGINE: ` ${engine} ` }).training.engine, engine);
  for (const backend of ['auto', 'tensorflow-gpu', 'tensorflow', 'cpu'] as const) assert.equal(settingsOf({ THAW_BACKEND: backend }).training.backend, backend);
  for (const on of ['1', 'true', ' 1 ']) assert.equal(settingsOf({ THAW_XLA: on }).training.xla, true, on);
  for (const off of ['0', 'false']) assert.equal(settingsOf({ THAW_XLA: off }).training.xla, false, off);
  const t = settingsOf({ THAW_INTRA_OP_THREADS: '8', THAW_INTER_OP_THREADS: '0', THAW_TF_PACKAGE_DIR: ' /opt/tf ', THAW_DATA_CACHE_MB: '0.5' }).training;
  assert.deepEqual([t.intraOpThreads, t.interOpThreads, t.tfPackageDir, t.dataCacheMb], [8, 0, '/opt/tf', 0.5]);
});

test('storage: part size (Number spellings, 5 MiB minimum), timeout, path-style switch, cache, local runs folder', () => {
  assert.equal(settingsOf({ THAW_S3_PART_SIZE: String(5 * MiB) }).storage.s3PartSize, 5 * MiB);
  assert.equal(settingsOf({ THAW_S3_PART_SIZE: '0x1000000' }).storage.s3PartSize, 16 * MiB);
  assert.equal(settingsOf({ THAW_S3_TIMEOUT_MS: '1500' }).storage.s3TimeoutMs, 1500);
  for (const [value, expected] of [['1', true], ['true', true], ['0', false], ['false', false]] as const) {
    assert.equal(settingsOf({ THAW_S3_FORCE_PATH_STYLE: value }).storage.s3ForcePathStyle, expected, value);
  }
  assert.equal(settingsOf({ THAW_CACHE_MAX_BYTES: '0' }).storage.cacheMaxBytes, 0); // 0 turns the cache off
  const s = settingsOf({ THAW_CACHE_DIR: '/c', THAW_CACHE_MAX_BYTES: '1e9', THAW_LOCAL_RUNS_DIR: '/r' }).storage;
  assert.deepEqual([s.cacheDir, s.cacheMaxBytes, s.localRunsDir], ['/c', 1e9, '/r']);
  assert.equal(settingsOf({ THAW_TEMPORAL_CLI: '/bin/temporal' }).temporalCli, '/bin/temporal');
});

const MALFORMED: [ThawVariable, string, string?][] = [
  ['THAW_ENGINE', 'banana', 'UnknownEngine'],
  ['THAW_BACKEND', 'tpu', 'UnknownBackend'],
  ['THAW_XLA', 'maybe'],
  ['THAW_XLA', 'yes'],
  ['THAW_INTRA_OP_THREADS', '2.5'],
  ['THAW_INTER_OP_THREADS', '-1'],
  ['THAW_DATA_CACHE_MB', '-1'],
  ['THAW_DATA_CACHE_MB', '0'],
  ['THAW_DATA_CACHE_MB', 'lots'],
  ['THAW_S3_PART_SIZE', 'abc'],
  ['THAW_S3_PART_SIZE', String(5 * MiB - 1)],
  ['THAW_S3_PART_SIZE', '6000000.5'],
  ['THAW_S3_TIMEOUT_MS', '0'],
  ['THAW_S3_TIMEOUT_MS', '2m'],
  ['THAW_S3_FORCE_PATH_STYLE', 'FALSE'],
  ['THAW_CACHE_MAX_BYTES', '-5'],
  ['THAW_CACHE_MAX_BYTES', '20GiB'],
];

for (const [name, value, type] of MALFORMED) {
  test(`${name}=${value} is a one-line UserError naming the variable, the value and the fix`, () => {
    assert.throws(() => settingsOf({ [name]: value }), (err: Error) => {
      assert.ok(isUserError(err), `${err}`);
      assert.equal(err.type, type ?? 'BadSetting');
      assert.equal(err.details.field, name);
      assert.ok(err.message.startsWith(`${name}=${value} is `), err.message);
      assert.ok(err.message.includes(`set ${name} to`), err.message);
      assert.ok(!err.message.includes('\n'), err.message);
      return true;
    });
  });
}

test('a value with blanks is quoted in the message, which stays one line', () => {
  assert.throws(() => settingsOf({ THAW_S3_PART_SIZE: '16 MiB\n' }), (err: Error) => err.message.startsWith('THAW_S3_PART_SIZE="16 MiB\\n" is ') && !err.message.includes('\n'));
});

test('README.md documents every variable in its settings table', () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  for (const name of Object.keys(THAW_VARIABLES)) assert.match(readme, new RegExp(`^\\| \`${name}\` \\|`, 'm'), `${name} has no row in README.md`);
});

/** Edges that call readSettings() (or one of its parts), and why; the core is given settings instead. */
const READS_SETTINGS: Record<string, string> = {
  'lib/settings.ts': 'defines them',
  'app/cli/main.ts': 'the CLI: every command gets settings read once here',
  'activities/index.ts': 'the worker (thawPlugin, worker.ts, `thaw worker`): read once as the activities are made, unless the host passes them',
  'lib/training/stage-child.ts': 'the training process: settings from the parent, else read once here',
};

const PRODUCT_FILES = [...sourceFiles('app'), ...sourceFiles('lib'), ...sourceFiles('activities'), ...sourceFiles('workflows'), 'worker.ts', 'plugin.ts', 'contract.ts', 'index.ts', 'client.ts'];

function filesMatching(pattern: RegExp): string[] {
  return PRODUCT_FILES.filter((f) => pattern.test(readFileSync(path.join(REPO, f), 'utf8'))).sort();
}

test('only lib/settings.ts reads THAW_* from an environment (by name, env[name]); everything else is given settings', () => {
  assert.deepEqual(filesMatching(/\benv\.THAW_|\benv\[['"`]THAW_/), []);
});

test('only the edges listed with their reason call readSettings(); workflows read no environment at all', () => {
  assert.deepEqual(filesMatching(/\bread(State|Training|Storage)?Settings\(/), Object.keys(READS_SETTINGS).sort());
  assert.deepEqual(filesMatching(/process\.env/).filter((f) => f.startsWith('workflows/')), []);
});
