/**
 * User errors are typed: each module's errors file has a class per kind of error, and no code elsewhere makes a
 * UserError from a type string (`new UserError('DataError', …)`). The type strings are part of what thaw shows and
 * keeps (Temporal ApplicationFailure types, run histories, "stage a: DataError: …"), so each class keeps its own.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { FolderUnusableError, LossCurveUnwritableError } from '../activities/failures';
import { CheckpointError } from '../lib/checkpoint/errors';
import { BackgroundRunFailedError, SetupFailedError } from '../app/cli/errors';
import { NoClusterConfiguredError } from '../app/client/errors';
import { DataError } from '../lib/data/errors';
import { isUserError, UserError, type UserErrorDetails } from '../lib/errors';
import { EvaluationError } from '../lib/evaluation/errors';
import { NiftyNetConfigError } from '../lib/niftynet/errors';
import { PipelineError } from '../lib/pipeline/problems';
import { BadSettingError, UnknownBackendError, UnknownEngineError } from '../lib/settings';
import { StorageError } from '../lib/storage/errors';
import {
  BackendUnavailableError, DataNetworkMismatchError, EngineUnavailableError, InvalidSelectionError, MissingVariableError,
  NothingToTrainError, ShapeMismatchError, StageChildUserError, UndifferentiableNetworkError,
} from '../lib/training/errors';
import { InvalidNetworkModuleError, InvalidNetworkParamsError, UnknownNetworkError } from '../lib/training/networks/errors';
import { sourceFiles } from './helpers/sources';

const REPO = path.join(__dirname, '..');

/**
 * The errors modules, where a UserError may be made from its type string (a class's `super(type, …)` is not a
 * `new UserError(`, so classes need no entry). Today none of them does: every error is a class.
 */
const MAY_MAKE_USER_ERRORS: Record<string, string> = {
  'lib/errors.ts': 'the UserError base',
  'lib/checkpoint/errors.ts': 'checkpoint errors',
  'lib/storage/errors.ts': 'storage errors',
  'lib/pipeline/problems.ts': 'PipelineError',
  'lib/data/errors.ts': 'data errors',
  'lib/evaluation/errors.ts': 'evaluation errors',
  'lib/niftynet/errors.ts': 'NiftyNet .ini read and import errors',
  'lib/training/errors.ts': 'engine, backend, stage set-up and training-child errors',
  'lib/training/networks/errors.ts': 'network and params errors',
  'app/cli/errors.ts': 'the CLI commands\' own errors',
  'app/client/errors.ts': 'cluster errors',
  'lib/settings.ts': 'THAW_* setting errors (settings is one file)',
  'activities/failures.ts': 'how errors leave an activity, and the activities\' own errors',
};

test('no `new UserError(` under app/, lib/, activities/ or workflows/ outside the errors modules listed', () => {
  for (const file of Object.keys(MAY_MAKE_USER_ERRORS)) assert.ok(statSync(path.join(REPO, file)).isFile(), `${file} is listed but is not there`);
  const files = [...sourceFiles('app'), ...sourceFiles('lib'), ...sourceFiles('activities'), ...sourceFiles('workflows')];
  assert.ok(files.length > 50 && files.includes('lib/data/nifti.ts'), 'the walk finds the sources');
  const offending = files
    .filter((f) => !(f in MAY_MAKE_USER_ERRORS))
    .flatMap((f) => readFileSync(path.join(REPO, f), 'utf8').split('\n')
      .map((line, i) => (/\bnew\s+UserError\s*\(/.test(line) ? `${f}:${i + 1}: ${line.trim()}` : null))
      .filter((hit): hit is string => hit !== null));
  assert.deepEqual(offending, [], 'make a UserError through its module\'s error class (e.g. new DataError(message, details))');
});

type Make = (message: string, details: UserErrorDetails) => UserError;

/** Each class, how to make one with a message and details, and the type it must keep. */
const CLASSES: Array<[new (...args: never[]) => UserError, string, Make]> = [
  [DataError, 'DataError', (m, d) => new DataError(m, d)],
  [EvaluationError, 'EvaluationError', (m, d) => new EvaluationError(m, d)],
  [NiftyNetConfigError, 'NiftyNetConfigError', (m, d) => new NiftyNetConfigError(m, d)],
  [UnknownNetworkError, 'UnknownNetwork', (m, d) => new UnknownNetworkError(m, d)],
  [InvalidNetworkParamsError, 'InvalidNetworkParams', (m, d) => new InvalidNetworkParamsError(m, d)],
  [InvalidNetworkModuleError, 'InvalidNetworkModule', (m, d) => new InvalidNetworkModuleError(m, d)],
  [EngineUnavailableError, 'EngineUnavailable', (m, d) => new EngineUnavailableError(m, d)],
  [UndifferentiableNetworkError, 'UndifferentiableOp', (m, d) => new UndifferentiableNetworkError(m, d)],
  [BackendUnavailableError, 'BackendUnavailable', (m, d) => new BackendUnavailableError(m, d)],
  [DataNetworkMismatchError, 'DataNetworkMismatch', (m, d) => new DataNetworkMismatchError(m, d)],
  [InvalidSelectionError, 'InvalidSelection', (m, d) => new InvalidSelectionError(m, d)],
  [NothingToTrainError, 'NothingToTrain', (m, d) => new NothingToTrainError(m, d)],
  [MissingVariableError, 'MissingVariable', (m, d) => new MissingVariableError(m, d)],
  [ShapeMismatchError, 'ShapeMismatch', (m, d) => new ShapeMismatchError(m, d)],
  [StageChildUserError, 'DataError', (m, d) => new StageChildUserError('DataError', m, d)],
  [SetupFailedError, 'SetupFailed', (m, d) => new SetupFailedError(m, d)],
  [BackgroundRunFailedError, 'BackgroundRunFailed', (m, d) => new BackgroundRunFailedError(m, d)],
  [NoClusterConfiguredError, 'NoClusterConfigured', (m, d) => new NoClusterConfiguredError(m, d)],
  [BadSettingError, 'BadSetting', (m, d) => new BadSettingError(m, d)],
  [UnknownEngineError, 'UnknownEngine', (m, d) => new UnknownEngineError(m, d)],
  [UnknownBackendError, 'UnknownBackend', (m, d) => new UnknownBackendError(m, d)],
  [LossCurveUnwritableError, 'LossCurveUnwritable', (m, d) => new LossCurveUnwritableError(m, d)],
  [CheckpointError, 'CheckpointError', (m, d) => new CheckpointError(m, d)],
  [StorageError, 'StorageError', (m, d) => new StorageError(m, d)],
  [PipelineError, 'PipelineError', (m, d) => new PipelineError({ message: m, details: d })],
  [FolderUnusableError, 'ModelDirUnusable', (m, d) => new FolderUnusableError(m, d.file!, d.fix!)],
];

test('each error class keeps its type string (also its name), its message and details, and is a UserError', () => {
  const details = { file: '/data/a.nii', field: 'data.images', fix: 'give the path of a NIfTI file' };
  for (const [cls, type, make] of CLASSES) {
    const err = make('what went wrong', { ...details });
    assert.ok(err instanceof cls, cls.name);
    assert.ok(err instanceof UserError, `${cls.name} is a UserError`);
    assert.ok(err instanceof Error, cls.name);
    assert.ok(isUserError(err), `isUserError(${cls.name})`);
    assert.equal(err.type, type, cls.name);
    assert.equal(err.name, type, cls.name);
    assert.equal(err.message, 'what went wrong', cls.name);
    const expected = cls === FolderUnusableError ? { file: details.file, fix: details.fix } : details;
    assert.deepEqual(err.details, expected, cls.name);
  }
});

test('PipelineError: a list of problems, or a file that cannot be read at all (no problems, its own fix)', () => {
  const listed = new PipelineError([{ file: '/p.yaml', line: 3, column: 5, field: 'stages[0].lr', message: 'must be a number' }]);
  assert.equal(listed.type, 'PipelineError');
  assert.equal(listed.message, '/p.yaml:3:5: stages[0].lr: must be a number');
  assert.deepEqual(listed.details, { file: '/p.yaml', field: 'stages[0].lr', fix: 'edit the pipeline file as the message says' });
  assert.equal(listed.problems.length, 1);
  const unreadable = new PipelineError({ message: '/p.yaml: cannot read the pipeline: gone', details: { file: '/p.yaml', fix: 'check the path' } });
  assert.equal(unreadable.type, 'PipelineError');
  assert.deepEqual(unreadable.problems, []);
  assert.deepEqual(unreadable.details, { file: '/p.yaml', fix: 'check the path' });
});

test('a user error from the training child keeps the child\'s type', () => {
  for (const type of ['DataError', 'CheckpointError', 'ShapeMismatch']) {
    const err = new StageChildUserError(type, 'm', {});
    assert.equal(err.type, type);
    assert.ok(isUserError(err));
  }
});
