/**
 * Where each stage keeps its checkpoints. A lineage (a chain of stages) shares one folder, so the iteration counter
 * and the `checkpoint` state file continue across its stages. Where the DAG forks, every child starts its own folder
 * `model_dir/branches/<child>/` (restoring the parent's final checkpoint from the parent's folder), so parallel
 * branches never write to the same folder. A single root stage uses model_dir itself; several roots each get a branch
 * folder. Pure string logic: also used where Node's `path` is not available.
 */
import { childrenByParent, type StageLink } from './dag';

/** Joins a local path or an s3:// URL with more segments. */
export function joinDir(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts].join('/');
}

/** Checkpoint folder of every stage; `stages` must be in topological order. */
export function checkpointFolders(modelDir: string, stages: readonly StageLink[]): Map<string, string> {
  const children = childrenByParent(stages);
  const folders = new Map<string, string>();
  for (const s of stages) {
    const siblings = children.get(s.after)?.length ?? 0;
    const parentFolder = s.after === null ? modelDir : folders.get(s.after);
    if (parentFolder === undefined) throw new Error(`stage ${s.name} comes before its parent ${s.after}`);
    folders.set(s.name, siblings > 1 ? joinDir(modelDir, 'branches', s.name) : parentFolder);
  }
  return folders;
}
