/**
 * A run's checkpoint folder, `model_dir/models/model.ckpt-N.*` plus the `checkpoint` state file: which iterations
 * exist, which is the newest that fully verifies, where to start from, saving with the state file last, retention.
 */
import type { Tensor } from './dtypes';
import { CheckpointError } from './errors';
import { basenameOf, dirnameOf, joinLocation, resolveLocation, storagesOf, type Storages, type StoragesOption } from '../storage';
import { indexFile, metaFile, sidecarFile } from './names';
import { CheckpointReader } from './reader';
import { readSidecar } from './sidecar';
import { readCheckpointState, STATE_FILE, writeCheckpointState } from './state-file';
import { writeCheckpoint, type WriteOptions } from './writer';

const PREFIX_BASE = 'model.ckpt';

export function modelsDir(modelDir: string): string {
  return joinLocation(modelDir, 'models');
}

export function checkpointPrefix(modelDir: string, iteration: number): string {
  return joinLocation(modelsDir(modelDir), `${PREFIX_BASE}-${iteration}`);
}

/** The iteration of a `model.ckpt-N` prefix inside `dir`, or null. */
export function iterationOfPrefix(dir: string, prefix: string): number | null {
  if (resolveLocation(dirnameOf(prefix)) !== resolveLocation(dir)) return null;
  const m = /^model\.ckpt-(\d+)$/.exec(basenameOf(prefix));
  return m ? Number(m[1]) : null;
}

/** Iterations whose `.index` and every data shard are present in `dir` (no file is read), ascending. */
export async function listIterationsIn(dir: string, options: StoragesOption = {}): Promise<number[]> {
  const names = await storagesOf(options).for(dir).list(dir); // [] for a missing local folder; S3 credential trouble throws
  // Shard counts seen per iteration, from `model.ckpt-N.data-SSSSS-of-MMMMM` names.
  const shards = new Map<string, Map<number, Set<number>>>();
  for (const name of names) {
    const m = /^model\.ckpt-(\d+)\.data-(\d{5})-of-(\d{5})$/.exec(name);
    if (!m) continue;
    const byCount = shards.get(m[1]) ?? new Map<number, Set<number>>();
    shards.set(m[1], byCount);
    const ids = byCount.get(Number(m[3])) ?? new Set<number>();
    byCount.set(Number(m[3]), ids);
    ids.add(Number(m[2]));
  }
  const found: number[] = [];
  for (const name of names) {
    const m = /^model\.ckpt-(\d+)\.index$/.exec(name);
    if (!m) continue;
    const complete = [...(shards.get(m[1])?.entries() ?? [])].some(([count, ids]) => {
      for (let id = 0; id < count; id++) if (!ids.has(id)) return false;
      return true;
    });
    if (complete) found.push(Number(m[1]));
  }
  return found.sort((a, b) => a - b);
}

export function listIterations(modelDir: string, options: StoragesOption = {}): Promise<number[]> {
  return listIterationsIn(modelsDir(modelDir), options);
}

/**
 * Why a checkpoint cannot be used (it does not read or verify completely), or null when every tensor verifies: its
 * files are regular files, its shards as long as the index needs (a truncated copy or LFS pointer says so), and every
 * tensor's checksum matches. Reads each byte the index declares once; memory bounded by two tensors.
 */
export async function checkpointProblem(prefix: string, options: StoragesOption = {}): Promise<CheckpointError | null> {
  let reader: CheckpointReader | null = null;
  try {
    reader = await CheckpointReader.open(prefix, options);
    await reader.checkShards();
    await reader.verifyAll();
    return null;
  } catch (err) {
    if (err instanceof CheckpointError) return err;
    throw err;
  } finally {
    await reader?.close();
  }
}

/** True when every tensor of the checkpoint reads and verifies; false for a torn or corrupt one. */
export async function verifyCheckpoint(prefix: string, options: StoragesOption = {}): Promise<boolean> {
  return (await checkpointProblem(prefix, options)) === null;
}

/** A candidate `latestValidCheckpoint` passed over, and why (filters such as `maxIteration` are not reported). */
export interface SkippedCheckpoint {
  iteration: number;
  prefix: string;
  /** `missing`: the state file names it, but it is not complete in the folder; `invalid`: it does not verify. */
  reason: 'missing' | 'invalid';
  /** For `invalid`: what is wrong with it. */
  error?: CheckpointError;
}

export interface LatestOptions extends StoragesOption {
  /** Ignore checkpoints after this iteration. */
  maxIteration?: number;
  /** Extra test a candidate must pass (e.g. its sidecar matches the pipeline); runs before the (costly) verification. */
  accept?: (prefix: string, iteration: number) => Promise<boolean>;
  /** Told about every candidate passed over because it is missing or does not verify, newest first. */
  onSkip?: (skipped: SkippedCheckpoint) => void;
  /**
   * Ignore the state file: the newest complete checkpoint that verifies. For a stage resuming its own work: a kill
   * after a checkpoint's `.index` is in place but before the state file names it leaves the state file one behind.
   */
  newestComplete?: boolean;
}

/**
 * The newest usable checkpoint: the state file's latest when it is present and verifies, else the newest complete
 * one (scanning newest → oldest) that verifies. Every candidate is fully verified; torn or corrupt ones are skipped.
 */
export async function latestValidCheckpoint(
  modelDir: string, options: LatestOptions = {},
): Promise<{ iteration: number; prefix: string } | null> {
  const dir = modelsDir(modelDir);
  const storages = storagesOf(options);
  const usable = async (iteration: number): Promise<boolean> => {
    if (options.maxIteration !== undefined && iteration > options.maxIteration) return false;
    const prefix = checkpointPrefix(modelDir, iteration);
    if (options.accept && !(await options.accept(prefix, iteration))) return false;
    const error = await checkpointProblem(prefix, { storages });
    if (error) options.onSkip?.({ iteration, prefix, reason: 'invalid', error });
    return error === null;
  };
  const tried = new Set<number>();
  // The state file before the listing: whatever it names was complete before the folder was listed.
  const state = options.newestComplete ? null : await readCheckpointState(dir, { storages });
  const fromState = state ? iterationOfPrefix(dir, state.latest) : null;
  const iterations = await listIterationsIn(dir, { storages });
  if (fromState !== null) {
    tried.add(fromState);
    if (!iterations.includes(fromState)) {
      if (options.maxIteration === undefined || fromState <= options.maxIteration) {
        options.onSkip?.({ iteration: fromState, prefix: checkpointPrefix(modelDir, fromState), reason: 'missing' });
      }
    } else if (await usable(fromState)) return { iteration: fromState, prefix: checkpointPrefix(modelDir, fromState) };
  }
  for (let i = iterations.length - 1; i >= 0; i--) {
    const iteration = iterations[i];
    if (tried.has(iteration)) continue;
    if (await usable(iteration)) return { iteration, prefix: checkpointPrefix(modelDir, iteration) };
  }
  return null;
}

/** The checkpoint a pipeline starts from, with what the user should know about how it was found. */
export interface StartingCheckpoint {
  iteration: number;
  prefix: string;
  /** Sentences for the user (e.g. the state file named a checkpoint that does not exist, so an older one is used). */
  notes?: string[];
}

function describeSkips(skipped: SkippedCheckpoint[], dir: string): string {
  return skipped.map((s) => {
    const name = basenameOf(s.prefix);
    return s.reason === 'missing'
      ? `the checkpoint state file ${joinLocation(dir, STATE_FILE)} names ${name}, which does not exist in ${dir}`
      : `${name} is not usable (${s.error!.message})`;
  }).join('; ');
}

/** -1: the latest valid checkpoint; null only when the folder holds none and no state file names one. */
async function resolveLatest(modelDir: string, storages: Storages): Promise<StartingCheckpoint | null> {
  const dir = modelsDir(modelDir);
  const skipped: SkippedCheckpoint[] = [];
  const found = await latestValidCheckpoint(modelDir, { storages, onSkip: (s) => skipped.push(s) });
  if (found && skipped.length === 0) return found;
  if (found) {
    const note = `${describeSkips(skipped, dir)}; starting from ${basenameOf(found.prefix)}, the newest valid checkpoint there`;
    return { ...found, notes: [note] };
  }
  if (skipped.length === 0) return null;
  const fixes = [...new Set(skipped.map((s) => s.error?.details.fix).filter((f): f is string => Boolean(f)))];
  throw new CheckpointError(`starting_iter -1: ${dir} has no usable checkpoint: ${describeSkips(skipped, dir)}`, {
    file: skipped[0].prefix,
    field: 'starting_iter',
    fix: `${fixes.length > 0 ? fixes.join('; ') : 'put the checkpoint files back'}, or set starting_iter: 0 to start from scratch`,
  });
}

/**
 * `starting_iter`: 0 → start fresh (null); -1 → the latest valid checkpoint (null if there is none at all; an error
 * when there are some but none is usable); N → model.ckpt-N, which must verify completely, as -1's choice does.
 */
export async function resolveStartingCheckpoint(
  modelDir: string, startingIter: number, options: StoragesOption = {},
): Promise<StartingCheckpoint | null> {
  const storages = storagesOf(options);
  if (startingIter === 0) return null;
  if (startingIter === -1) return resolveLatest(modelDir, storages);
  const dir = modelsDir(modelDir);
  if (!Number.isInteger(startingIter) || startingIter < -1) {
    throw new CheckpointError(`starting_iter ${startingIter} is not valid: use 0 (fresh start), -1 (latest) or an iteration N`, {
      field: 'starting_iter',
    });
  }
  const iterations = await listIterationsIn(dir, { storages });
  if (!iterations.includes(startingIter)) {
    const prefix = checkpointPrefix(modelDir, startingIter);
    throw new CheckpointError(
      `starting_iter ${startingIter}: checkpoint ${prefix} does not exist (or is incomplete); ` +
      (iterations.length ? `iterations present in ${dir}: ${iterations.join(', ')}` : `${dir} holds no checkpoints`),
      { file: prefix, field: 'starting_iter', fix: 'set starting_iter to an existing iteration, -1 for the latest, or 0' },
    );
  }
  const prefix = checkpointPrefix(modelDir, startingIter);
  // Every tensor's checksum, not only the shard lengths: the stage reads nearly all of them (what it restores, and
  // everything outside its graph, which it carries into its own checkpoints), so verifying all costs about what
  // verifying those would, is what -1 does, and needs no selection. A damaged file is found now, before any training.
  const problem = await checkpointProblem(prefix, { storages });
  if (problem) {
    throw new CheckpointError(`starting_iter ${startingIter}: ${problem.message}`, {
      ...problem.details,
      field: 'starting_iter',
      fix: problem.details.fix ??
        `copy ${basenameOf(prefix)} again (every file of the prefix), or set starting_iter to another iteration (-1: the newest that verifies)`,
    });
  }
  return { iteration: startingIter, prefix };
}

/**
 * Who is writing, for the rule "thaw never overwrites (nor deletes) a checkpoint it did not write in this run": which
 * existing checkpoints are its own, judged by their sidecars (`<prefix>.thaw.json`, null when there is none).
 */
export interface CheckpointWriter {
  /** The writer in words, for messages: `stage "finetune" of pipeline 3f2a9c…`. */
  description: string;
  /** True for a checkpoint this writer may replace at the same iteration (thaw's stage: same stage, same pipeline). */
  owns(sidecar: unknown): boolean;
  /** True for a checkpoint retention may delete (thaw's stage: any stage of the same pipeline); default: `owns`. */
  mayDelete?(sidecar: unknown): boolean;
}

export interface SaveOptions extends StoragesOption {
  sidecar?: unknown;
  /** Keep at most this many checkpoints (never deleting `keep` nor the newest); unlimited when absent. */
  maxCheckpoints?: number;
  /** Iterations that must survive retention (e.g. a parent checkpoint a later stage starts from). */
  keep?: number[];
  meta?: WriteOptions['meta'];
  /**
   * Which existing `model.ckpt-<iteration>.*` files may be replaced, and which checkpoints retention may delete.
   * Without it no existing file of the prefix is replaced (an error names them) and retention deletes any checkpoint.
   */
  writer?: CheckpointWriter;
}

/** thaw's sidecar in words: which stage of which pipeline wrote the checkpoint. */
function describeSidecar(sidecar: unknown): string {
  const s = sidecar as { stage?: unknown; pipelineHash?: unknown } | null;
  if (s && typeof s === 'object' && typeof s.stage === 'string' && typeof s.pipelineHash === 'string') {
    return `its sidecar says stage "${s.stage}" of pipeline ${s.pipelineHash.slice(0, 12)} wrote it`;
  }
  return 'its sidecar is not one a thaw stage writes';
}

/**
 * Refuses to write `model.ckpt-<iteration>` over files of that prefix that `writer` did not write (no writer: over
 * any): a NiftyNet or TensorFlow checkpoint, another pipeline's or another stage's, a corrupt one of unknown origin.
 */
async function refuseForeignFiles(modelDir: string, iteration: number, writer: CheckpointWriter | undefined, storages: Storages): Promise<void> {
  const dir = modelsDir(modelDir);
  const prefix = checkpointPrefix(modelDir, iteration);
  const base = basenameOf(prefix);
  const present = (await storages.for(dir).list(dir)).filter((n) => n.startsWith(`${base}.`)).sort();
  if (present.length === 0) return;
  let why: string;
  try {
    const sidecar = await readSidecar(prefix, { storages });
    if (sidecar !== null && writer?.owns(sidecar)) return;
    why = sidecar === null
      ? `there is no thaw sidecar ${basenameOf(sidecarFile(prefix))}, so another program wrote them (NiftyNet, TensorFlow, a copy)`
      : describeSidecar(sidecar);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    why = `its sidecar cannot be read (${err.message})`;
  }
  const shown = present.length > 4 ? [...present.slice(0, 4), `… (${present.length} files)`] : present;
  throw new CheckpointError(
    `${writer?.description ?? 'thaw'} would write ${prefix}, but ${dir} already holds ${shown.join(', ')}, which this ` +
    `stage did not write (${why}); thaw does not overwrite checkpoints it did not write`,
    {
      file: prefix,
      fix: `move the ${base}.* files out of ${dir} (or delete them if they are not needed), or give the pipeline another model_dir`,
    },
  );
}

/**
 * Writes `model.ckpt-<iteration>` (sidecar, data, .meta, then .index), then moves the state file to it, then applies
 * retention. A crash at any point leaves the previous latest checkpoint valid and named by the state file. Files of
 * that prefix that `options.writer` does not own are never replaced (a CheckpointError names them).
 */
export async function saveCheckpoint(
  modelDir: string, iteration: number, tensors: Map<string, Tensor>, options: SaveOptions = {},
): Promise<string> {
  const prefix = checkpointPrefix(modelDir, iteration);
  const storages = storagesOf(options);
  await refuseForeignFiles(modelDir, iteration, options.writer, storages);
  await writeCheckpoint(prefix, tensors, { meta: options.meta ?? true, sidecar: options.sidecar, storages });
  const dir = modelsDir(modelDir);
  const iterations = await listIterationsIn(dir, { storages });
  const kept = iterations.filter((i) => i !== iteration);
  kept.push(iteration); // the newest goes last, as TensorFlow orders all_model_checkpoint_paths
  await writeCheckpointState(dir, { latest: prefix, all: kept.map((i) => checkpointPrefix(modelDir, i)) }, { storages });
  if (options.maxCheckpoints !== undefined) {
    const writer = options.writer;
    const mayDelete = writer ? (sidecar: unknown) => (writer.mayDelete ?? writer.owns).call(writer, sidecar) : undefined;
    await applyRetention(modelDir, options.maxCheckpoints, [...(options.keep ?? []), iteration], { mayDelete, storages });
  }
  return prefix;
}

/** Removes one checkpoint, `.index` first so a half-deleted one is never taken for complete. */
async function deleteCheckpoint(prefix: string, dir: string, storages: Storages): Promise<void> {
  const storage = storages.for(prefix);
  await storage.remove(indexFile(prefix));
  const base = basenameOf(prefix);
  const names = await storage.list(dir);
  for (const name of names) if (name.startsWith(`${base}.data-`)) await storage.remove(joinLocation(dir, name));
  await storage.remove(metaFile(prefix));
  await storage.remove(sidecarFile(prefix));
}

export interface RetentionOptions extends StoragesOption {
  /** Only checkpoints whose sidecar this accepts count and may be deleted. */
  mayDelete?: (sidecar: unknown) => boolean;
}

/**
 * Deletes the oldest checkpoints until at most `maxCheckpoints` remain, never deleting an iteration in `keep` nor the
 * newest. With `options.mayDelete`, only checkpoints whose sidecar it accepts count and may go (a checkpoint without a
 * sidecar, e.g. NiftyNet's, is never deleted). The state file is rewritten without them before any file goes.
 * Returns the deleted iterations.
 */
export async function applyRetention(
  modelDir: string, maxCheckpoints: number, keep: number[], options: RetentionOptions = {},
): Promise<number[]> {
  const dir = modelsDir(modelDir);
  const { mayDelete } = options;
  const storages = storagesOf(options);
  let iterations = await listIterationsIn(dir, { storages });
  if (maxCheckpoints <= 0 || iterations.length <= maxCheckpoints) return [];
  if (mayDelete) {
    const deletable = async (i: number) => {
      const sidecar = await readSidecar(checkpointPrefix(modelDir, i), { storages }).catch((err: unknown) => {
        if (err instanceof CheckpointError) return null; // unreadable: not provably ours, kept
        throw err;
      });
      return sidecar !== null && mayDelete(sidecar);
    };
    const flags: boolean[] = [];
    for (const i of iterations) flags.push(await deletable(i));
    iterations = iterations.filter((_, k) => flags[k]);
    if (iterations.length <= maxCheckpoints) return [];
  }
  const newest = iterations[iterations.length - 1];
  const protectedSet = new Set([...keep, newest]);
  const state = await readCheckpointState(dir, { storages });
  const latestFromState = state ? iterationOfPrefix(dir, state.latest) : null;
  if (latestFromState !== null) protectedSet.add(latestFromState);
  let excess = iterations.length - maxCheckpoints;
  const doomed: number[] = [];
  for (const i of iterations) {
    if (excess <= 0) break;
    if (protectedSet.has(i)) continue;
    doomed.push(i);
    excess--;
  }
  if (doomed.length === 0) return [];
  if (state) {
    const gone = new Set(doomed.map((i) => checkpointPrefix(modelDir, i)));
    await writeCheckpointState(dir, { latest: state.latest, all: state.all.filter((p) => !gone.has(p)) }, { storages });
  }
  for (const i of doomed) await deleteCheckpoint(checkpointPrefix(modelDir, i), dir, storages);
  return doomed;
}
