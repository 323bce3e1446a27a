/**
 * TensorFlow's `checkpoint` state file: a text-format CheckpointState naming the latest prefix and the ones kept,
 * paths relative to the folder holding it (absolute paths, as a TF1 Saver writes them, are read too).
 */
import { UserError } from '../errors';
import { joinLocation, relativeTo, resolveIn, storagesOf, type StoragesOption } from '../storage';
import { fileError } from './errors';
import { STATE_FILE_MAX_BYTES } from './limits';

export const STATE_FILE = 'checkpoint';

export interface CheckpointState {
  /** Absolute prefix of the newest checkpoint. */
  latest: string;
  /** Absolute prefixes of the kept checkpoints, oldest first. */
  all: string[];
}

/** C-style unescaping of a text-proto string literal (what TensorFlow's text_format writes). */
function unescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      bytes.push(...Buffer.from(s[i], 'utf8'));
      continue;
    }
    const c = s[++i];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, "'": 39, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
    if (c in simple) bytes.push(simple[c]);
    else if (c === 'x') {
      const hex = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1))![0];
      bytes.push(parseInt(hex, 16));
      i += hex.length;
    } else if (/[0-7]/.test(c)) {
      const oct = /^[0-7]{1,3}/.exec(s.slice(i))![0];
      bytes.push(parseInt(oct, 8));
      i += oct.length - 1;
    } else bytes.push(...Buffer.from(c ?? '', 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Parses state-file text; returns null when it does not name a latest checkpoint (TensorFlow ignores such files). */
export function parseCheckpointState(text: string, dir: string): CheckpointState | null {
  let latest: string | null = null;
  const all: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\w+)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(line);
    if (!m) continue;
    const value = resolveIn(dir, unescape(m[2]));
    if (m[1] === 'model_checkpoint_path') latest = value;
    else if (m[1] === 'all_model_checkpoint_paths') all.push(value);
  }
  if (!latest) return null;
  if (!all.includes(latest)) all.push(latest);
  return { latest, all };
}

/** Error codes of a state file that is there but is no file to read (a folder, FIFO, device, or far too large). */
const NOT_A_STATE_FILE = new Set(['EISDIR', 'EFTYPE', 'ENXIO', 'EFBIG']);

/**
 * Reads `<dir>/checkpoint`; null when missing or unusable (as TensorFlow ignores it). One that is not a regular file,
 * or is larger than a state file can be, is a CheckpointError: it is never read (nor waited on, for a FIFO).
 */
export async function readCheckpointState(dir: string, options: StoragesOption = {}): Promise<CheckpointState | null> {
  let text: string;
  const file = joinLocation(dir, STATE_FILE);
  try {
    text = (await storagesOf(options).for(file).readFile(file, { maxBytes: STATE_FILE_MAX_BYTES })).toString('utf8');
  } catch (err) {
    if (err instanceof UserError) throw err; // S3 credentials or bucket: not the same as "no state file"
    if (NOT_A_STATE_FILE.has((err as NodeJS.ErrnoException).code ?? '')) throw fileError(err, file, 'checkpoint state file');
    return null;
  }
  return parseCheckpointState(text, dir);
}

export function formatCheckpointState(state: CheckpointState, dir: string): string {
  const rel = (p: string) => relativeTo(dir, p);
  const lines = [`model_checkpoint_path: "${escape(rel(state.latest))}"`];
  for (const p of state.all) lines.push(`all_model_checkpoint_paths: "${escape(rel(p))}"`);
  return `${lines.join('\n')}\n`;
}

/** Replaces `<dir>/checkpoint` atomically. */
export async function writeCheckpointState(dir: string, state: CheckpointState, options: StoragesOption = {}): Promise<void> {
  const file = joinLocation(dir, STATE_FILE);
  await storagesOf(options).for(file).writeAtomic(file, Buffer.from(formatCheckpointState(state, dir)));
}
