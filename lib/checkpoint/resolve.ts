/**
 * What a user may point at when naming a checkpoint: a prefix (`…/model.ckpt-100`, also given with a `.index`,
 * `.meta` or `.data-…` suffix), a folder holding checkpoints (`models/`), or a model_dir (then its latest).
 */
import { joinLocation, storagesOf, type Storages, type StoragesOption } from '../storage';
import type { VariableInfo } from './dtypes';
import { CheckpointError } from './errors';
import { listIterationsIn, modelsDir } from './model-dir';
import { indexFile } from './names';
import { CheckpointReader } from './reader';
import { readCheckpointState, STATE_FILE } from './state-file';

/** True when something is at `p` (a file; or a FIFO, device… that opening it then refuses with a clear message). */
async function isFile(p: string, storages: Storages): Promise<boolean> {
  return (await storages.for(p).stat(p)) !== null;
}

async function isDir(p: string, storages: Storages): Promise<boolean> {
  return storages.for(p).isDir(p);
}

/** A checkpoint prefix, and for one found in a folder which it is and why (for the user: `thaw vars` says it). */
export interface LocatedCheckpoint {
  prefix: string;
  why?: string;
}

/** The latest checkpoint in a folder: the state file's when its .index exists, else the highest model.ckpt-N, else the only prefix. */
async function latestInFolder(dir: string, storages: Storages): Promise<LocatedCheckpoint | null> {
  const state = await readCheckpointState(dir, { storages });
  if (state && (await isFile(indexFile(state.latest), storages))) return { prefix: state.latest, why: `the latest one per ${joinLocation(dir, STATE_FILE)}` };
  const stateSays = state ? `: ${joinLocation(dir, STATE_FILE)} names ${state.latest}, which has no .index` : ', which has no checkpoint state file';
  const iterations = await listIterationsIn(dir, { storages });
  if (iterations.length > 0) {
    return { prefix: joinLocation(dir, `model.ckpt-${iterations[iterations.length - 1]}`), why: `the newest complete one in ${dir}${stateSays}` };
  }
  const names = await storages.for(dir).list(dir);
  const prefixes = names.filter((n) => n.endsWith('.index')).map((n) => joinLocation(dir, n.slice(0, -'.index'.length)));
  return prefixes.length === 1 ? { prefix: prefixes[0], why: `the only one in ${dir}${stateSays}` } : null;
}

export async function resolveCheckpointTarget(target: string, options: StoragesOption = {}): Promise<string> {
  return (await locateCheckpoint(target, options)).prefix;
}

/** resolveCheckpointTarget, saying which checkpoint of a folder it chose and why. */
export async function locateCheckpoint(target: string, options: StoragesOption = {}): Promise<LocatedCheckpoint> {
  const storages = storagesOf(options);
  const stripped = target.replace(/\.(index|meta|thaw\.json|data-\d{5}-of-\d{5})$/, '');
  for (const candidate of [target, stripped]) if (await isFile(indexFile(candidate), storages)) return { prefix: candidate };
  if (await isDir(target, storages)) {
    const models = modelsDir(target);
    for (const dir of (await isDir(models, storages)) ? [models, target] : [target]) {
      const latest = await latestInFolder(dir, storages);
      if (latest) return latest;
    }
    throw new CheckpointError(`no checkpoint found in ${target}: it holds no .index file (and no models/ folder with one)`, {
      file: target, fix: 'point at a checkpoint prefix such as model_dir/models/model.ckpt-100, a models/ folder or a model_dir',
    });
  }
  if (await isFile(target, storages)) {
    throw new CheckpointError(`${target} is a file but not a checkpoint: ${indexFile(target)} does not exist`, {
      file: target, fix: 'give the checkpoint prefix (the path without .index / .data-…)',
    });
  }
  throw new CheckpointError(`checkpoint ${target} does not exist (no ${indexFile(stripped)}, and no such folder)`, {
    file: target, fix: 'check the path; a checkpoint is named by its prefix, e.g. model_dir/models/model.ckpt-100',
  });
}

export async function listVariables(target: string, options: StoragesOption = {}): Promise<VariableInfo[]> {
  const storages = storagesOf(options);
  const reader = await CheckpointReader.open(await resolveCheckpointTarget(target, { storages }), { storages });
  try {
    return reader.variables();
  } finally {
    await reader.close();
  }
}
