/**
 * Every THAW_* environment variable thaw reads, in one place: its name, what it does, its default, and how its value
 * is parsed. The edges (the CLI, the worker's activities, a training process) call readSettings() once and pass what
 * they got down; the core takes settings as parameters and never reads the environment. A malformed value is a
 * UserError naming the variable, the value and the fix, raised at the edge instead of silently falling back.
 *
 * Not here: variables only tests read (THAW_PROPERTY_SEED, THAW_FROM_SOURCE, ...), and THAW_TFJS_NODE_PKG and
 * THAW_NODE_ROOT, which only scripts/build-tfjs-node.sh reads (documented in its header and in README.md).
 */
import os from 'node:os';
import path from 'node:path';
import { UserError, type UserErrorDetails } from './errors';
import type { BackendName, EngineChoice } from './pipeline/plan';

const MiB = 2 ** 20;
export const MIN_S3_PART_SIZE = 5 * MiB;
export const DEFAULT_DATA_CACHE_MB = 1024;

/** One line each: what the variable does and what it is when unset (or empty, which counts as unset). */
export const THAW_VARIABLES = {
  THAW_STATE_DIR: { what: 'one state folder (embedded server database, run logs) for every pipeline', default: 'one folder per model_dir, under THAW_STATE_HOME' },
  THAW_STATE_HOME: { what: 'root of the per-model_dir state folders', default: '$XDG_STATE_HOME/thaw, else ~/.local/state/thaw' },
  THAW_TEMPORAL_CLI: { what: 'the temporal CLI binary that runs the embedded dev server (must be executable)', default: 'searched: PATH, .venv/bin, the SDK cache, else downloaded' },
  THAW_ENGINE: { what: 'training engine for every stage on this worker: auto, graph or tfjs (wins over the stage\'s engine:)', default: 'the stage\'s engine: (default auto)' },
  THAW_BACKEND: { what: 'TensorFlow.js backend: auto, tensorflow-gpu, tensorflow or cpu (wins over the pipeline\'s backend:)', default: 'the pipeline\'s backend: (default auto)' },
  THAW_XLA: { what: 'XLA auto-clustering of the graph engine\'s step: 1/true on, 0/false off (wins over the stage\'s xla:)', default: 'the stage\'s xla: (default off)' },
  THAW_INTRA_OP_THREADS: { what: 'threads of the graph engine\'s intra-op pool (0: TensorFlow\'s default)', default: '0' },
  THAW_INTER_OP_THREADS: { what: 'threads of the graph engine\'s inter-op pool (0: TensorFlow\'s default)', default: '0' },
  THAW_TF_PACKAGE_DIR: { what: 'tensorflow/ folder of a TensorFlow wheel whose libtensorflow the graph engine loads (e.g. a CUDA wheel)', default: 'the wheel in thaw\'s .venv' },
  THAW_DATA_CACHE_MB: { what: 'memory for loaded NIfTI volumes per training process, in MB', default: '1024' },
  THAW_CACHE_DIR: { what: 'folder of the worker\'s cache of S3 checkpoint shards', default: '~/.cache/thaw/s3' },
  THAW_CACHE_MAX_BYTES: { what: 'size limit of that cache in bytes; 0 turns it off', default: '21474836480 (20 GiB)' },
  THAW_LOCAL_RUNS_DIR: { what: 'local folder for metrics, TensorBoard events and the loss curve of s3:// runs', default: '~/.cache/thaw/runs' },
  THAW_S3_PART_SIZE: { what: 'multipart upload part size in bytes (at least 5 MiB, S3\'s minimum)', default: '16777216 (16 MiB)' },
  THAW_S3_TIMEOUT_MS: { what: 'a stalled S3 request fails (and is retried) after this many milliseconds', default: '120000' },
  THAW_S3_FORCE_PATH_STYLE: { what: 'path-style S3 addressing (bucket in the path): 1/true on, 0/false off', default: 'on with a custom endpoint (AWS_ENDPOINT_URL_S3), else off' },
} as const satisfies Record<string, { what: string; default: string }>;

export type ThawVariable = keyof typeof THAW_VARIABLES;

/** Where the embedded Temporal server keeps its state. */
export interface StateSettings {
  /** THAW_STATE_DIR, resolved: the one state folder of every pipeline; undefined: one per model_dir. */
  stateDir?: string;
  /** THAW_STATE_HOME (or its default), resolved: root of the per-model_dir state folders. */
  stateHome: string;
}

/** What the training process reads: engine and backend choices, thread pools, libtensorflow, the data cache. */
export interface TrainingProcessSettings {
  /** THAW_ENGINE; undefined: the stage's setting. */
  engine?: EngineChoice;
  /** THAW_BACKEND; undefined: the pipeline's setting. */
  backend?: BackendName;
  /** THAW_XLA; undefined: the stage's setting. */
  xla?: boolean;
  intraOpThreads: number;
  interOpThreads: number;
  /** THAW_TF_PACKAGE_DIR; undefined: the wheel in thaw's venv. */
  tfPackageDir?: string;
  dataCacheMb: number;
}

/** The S3 client's tuning, the worker's S3 read cache, and where remote runs' local files go. */
export interface ThawStorageSettings {
  s3PartSize: number;
  s3TimeoutMs: number;
  /** THAW_S3_FORCE_PATH_STYLE; undefined: on exactly when a custom endpoint is configured. */
  s3ForcePathStyle?: boolean;
  cacheDir: string;
  cacheMaxBytes: number;
  localRunsDir: string;
}

export interface ThawSettings {
  state: StateSettings;
  training: TrainingProcessSettings;
  storage: ThawStorageSettings;
  /** THAW_TEMPORAL_CLI; undefined: searched. */
  temporalCli?: string;
}

export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'graph', 'tfjs'];
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'cpu'];

/** The variable's value; an empty one counts as unset. */
function raw(env: NodeJS.ProcessEnv, name: ThawVariable): string | undefined {
  return env[name] || undefined;
}

/** The value without surrounding blanks (variables whose parsers have always trimmed); blank counts as unset. */
function trimmed(env: NodeJS.ProcessEnv, name: ThawVariable): string | undefined {
  return env[name]?.trim() || undefined;
}

/** The value as a person reads it in a one-line message (quoted when it has blanks or control characters). */
function shown(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * A THAW_* variable's value that thaw cannot use (settings is one file, so its errors are here). THAW_ENGINE and
 * THAW_BACKEND naming what does not exist have types of their own, below.
 */
export class BadSettingError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('BadSetting', message, details);
  }
}

/** THAW_ENGINE names no training engine. */
export class UnknownEngineError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('UnknownEngine', message, details);
  }
}

/** THAW_BACKEND names no backend. */
export class UnknownBackendError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('UnknownBackend', message, details);
  }
}

type SettingErrorClass = new (message: string, details: UserErrorDetails) => UserError;

function malformed(name: ThawVariable, value: string, problem: string, fix: string, kind: SettingErrorClass = BadSettingError): UserError {
  return new kind(`${name}=${shown(value)} is ${problem}: ${fix}`, { field: name, fix });
}

function unsetFix(name: ThawVariable): string {
  return `or unset it (default: ${THAW_VARIABLES[name].default})`;
}

/** A number as Number() reads it (so 0x10, 1e6 and blanks around it work as they always have), within limits. */
function number(env: NodeJS.ProcessEnv, name: ThawVariable, rule: { min: number; integer: boolean; what: string; example: string }, fallback: number): number {
  const value = env[name];
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < rule.min || (rule.integer && !Number.isInteger(n))) {
    throw malformed(name, value, `not ${rule.what}`, `set ${name} to e.g. ${rule.example}, ${unsetFix(name)}`);
  }
  return n;
}

/** 1/true or 0/false; unset: undefined (the caller's default). */
function flag(env: NodeJS.ProcessEnv, name: ThawVariable): boolean | undefined {
  const value = trimmed(env, name);
  if (value === undefined) return undefined;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw malformed(name, env[name]!, 'not a switch', `set ${name} to 1 or true (on), 0 or false (off), ${unsetFix(name)}`);
}

function choice<T extends string>(env: NodeJS.ProcessEnv, name: ThawVariable, choices: readonly T[], what: string, kind: SettingErrorClass): T | undefined {
  const value = trimmed(env, name);
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw malformed(name, value, `not ${what} (known: ${choices.join(', ')})`, `set ${name} to one of ${choices.join(', ')}, ${unsetFix(name)}`, kind);
  }
  return value as T;
}

function resolvedDir(env: NodeJS.ProcessEnv, name: ThawVariable): string | undefined {
  const value = raw(env, name);
  return value === undefined ? undefined : path.resolve(value);
}

export function readStateSettings(env: NodeJS.ProcessEnv = process.env): StateSettings {
  const xdg = env.XDG_STATE_HOME ? path.join(path.resolve(env.XDG_STATE_HOME), 'thaw') : undefined;
  return {
    stateDir: resolvedDir(env, 'THAW_STATE_DIR'),
    stateHome: resolvedDir(env, 'THAW_STATE_HOME') ?? xdg ?? path.join(os.homedir(), '.local', 'state', 'thaw'),
  };
}

export function readTrainingSettings(env: NodeJS.ProcessEnv = process.env): TrainingProcessSettings {
  const threads = { min: 0, integer: true, what: 'a whole number of threads', example: '4' };
  return {
    engine: choice(env, 'THAW_ENGINE', ENGINE_CHOICES, 'a training engine', UnknownEngineError),
    backend: choice(env, 'THAW_BACKEND', BACKEND_NAMES, 'a backend', UnknownBackendError),
    xla: flag(env, 'THAW_XLA'),
    intraOpThreads: number(env, 'THAW_INTRA_OP_THREADS', threads, 0),
    interOpThreads: number(env, 'THAW_INTER_OP_THREADS', threads, 0),
    tfPackageDir: trimmed(env, 'THAW_TF_PACKAGE_DIR'),
    dataCacheMb: number(env, 'THAW_DATA_CACHE_MB', { min: Number.MIN_VALUE, integer: false, what: 'a positive number of MB', example: '4096' }, DEFAULT_DATA_CACHE_MB),
  };
}

export function readStorageSettings(env: NodeJS.ProcessEnv = process.env): ThawStorageSettings {
  return {
    s3PartSize: number(env, 'THAW_S3_PART_SIZE', { min: MIN_S3_PART_SIZE, integer: true, what: `a whole number of bytes, at least ${MIN_S3_PART_SIZE} (5 MiB)`, example: String(16 * MiB) }, 16 * MiB),
    s3TimeoutMs: number(env, 'THAW_S3_TIMEOUT_MS', { min: Number.MIN_VALUE, integer: false, what: 'a positive number of milliseconds', example: '120000' }, 120_000),
    s3ForcePathStyle: flag(env, 'THAW_S3_FORCE_PATH_STYLE'),
    cacheDir: raw(env, 'THAW_CACHE_DIR') ?? path.join(os.homedir(), '.cache', 'thaw', 's3'),
    cacheMaxBytes: number(env, 'THAW_CACHE_MAX_BYTES', { min: 0, integer: false, what: 'a number of bytes (0: no cache)', example: String(20 * 2 ** 30) }, 20 * 2 ** 30),
    localRunsDir: raw(env, 'THAW_LOCAL_RUNS_DIR') ?? path.join(os.homedir(), '.cache', 'thaw', 'runs'),
  };
}

/** The storage settings when no variable is set: for library use, where no edge has read any. */
export function defaultStorageSettings(): ThawStorageSettings {
  return readStorageSettings({});
}

/** Every THAW_* setting, parsed and checked: called once by each edge (CLI command, worker, training process). */
export function readSettings(env: NodeJS.ProcessEnv = process.env): ThawSettings {
  return {
    state: readStateSettings(env),
    training: readTrainingSettings(env),
    storage: readStorageSettings(env),
    temporalCli: raw(env, 'THAW_TEMPORAL_CLI'),
  };
}
